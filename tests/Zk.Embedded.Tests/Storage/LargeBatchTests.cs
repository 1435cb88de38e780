using Zk.Embedded.Txns;
using Zk.Embedded.Api;
using Zk.Embedded.Processing;
using Zk.Embedded.Storage;

namespace Zk.Embedded.Tests.Storage;

/// <summary>
/// Batches and txns larger than one LiteDB document (~16 MB) are logged and read back: a batch is whatever the
/// pipeline took at once, so any load a client may legally send must fit the log.
/// </summary>
public sealed class LargeBatchTests : IDisposable
{
    /// <summary>A little under jute.maxbuffer, as a wire client may send.</summary>
    private const int OneMegabyte = 1_000_000;

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static byte[] Data(int size, int seed)
    {
        var data = new byte[size];
        new Random(seed).NextBytes(data);
        return data;
    }

    [Fact]
    public void A_batch_of_forty_one_megabyte_txns_is_logged_and_read_back_after_a_crash_and_after_a_truncation()
    {
        var batch = new List<Txn>();
        for (var i = 0; i < 40; i++)
        {
            batch.Add(new Txn(new Zxid(i + 1), new SessionId(7), 1000 + i, new SetDataTxn("/n", Data(OneMegabyte, i), i)));
        }

        var log = TxnLog.Open(_dir.Path);
        log.Append(batch);
        log.Append([new Txn(new Zxid(41), new SessionId(7), 2000, new DeleteTxn("/n"))]);
        log.CloseLikeACrash();

        using var reopened = TxnLog.Open(_dir.Path);
        Assert.Equal(new Zxid(41), reopened.LastZxid);
        StorageAssert.SameTxns(batch, reopened.ReadFrom(default).Take(40).ToList());
        Assert.Equal(21, reopened.TruncateAfter(new Zxid(20)));
        StorageAssert.SameTxns(batch[..20], [.. reopened.ReadFrom(default)]);
    }

    [Fact]
    public void A_single_txn_larger_than_a_document_is_logged_in_parts_and_truncation_and_purge_remove_them()
    {
        var ops = new TxnOp[20];
        for (var i = 0; i < ops.Length; i++)
        {
            ops[i] = new SetDataTxn($"/n{i}", Data(OneMegabyte, i), 0);
        }

        var multi = new Txn(new Zxid(2), new SessionId(7), 1000, new MultiTxn(ops));
        var small = new Txn(new Zxid(1), new SessionId(7), 999, new DeleteTxn("/x"));
        var log = TxnLog.Open(_dir.Path);
        log.Append([small, multi]);
        log.Append([new Txn(new Zxid(3), new SessionId(7), 1001, new DeleteTxn("/y"))]);
        log.CloseLikeACrash();

        using var reopened = TxnLog.Open(_dir.Path);
        StorageAssert.SameTxns([small, multi], reopened.ReadFrom(default).Take(2).ToList());

        // A later txn of the same zxid after a truncation must not meet the old parts.
        reopened.TruncateAfter(new Zxid(1));
        var replaced = new Txn(new Zxid(2), new SessionId(7), 1002, new MultiTxn(ops[..18]));
        reopened.Append([replaced]);
        StorageAssert.SameTxns([small, replaced], [.. reopened.ReadFrom(default)]);
        reopened.Append([new Txn(new Zxid(3), new SessionId(7), 1003, new DeleteTxn("/z"))]);
        reopened.PurgeThrough(new Zxid(2));
        Assert.Equal(new Zxid(3), reopened.ReadFrom(default).Single().Zxid);
    }

    [Fact]
    public async Task Forty_sessions_writing_one_megabyte_at_once_are_all_acknowledged_and_survive_a_restart()
    {
        await WriteAtOnceAndRestartAsync(sessions: 40, size: OneMegabyte);
    }

    [Fact]
    public async Task Two_hundred_sessions_writing_300_KB_at_once_are_all_acknowledged_and_survive_a_restart()
    {
        await WriteAtOnceAndRestartAsync(sessions: 200, size: 300_000);
    }

    /// <summary>Each session creates one node of <paramref name="size"/> bytes, all at once, against a durable peer; a restart has them all.</summary>
    private async Task WriteAtOnceAndRestartAsync(int sessions, int size)
    {
        var options = new ZkPeerOptions { DataDir = _dir.Path };
        await using (var peer = await ZkPeer.StartAsync(options))
        {
            var clients = new IZooKeeper[sessions];
            for (var i = 0; i < sessions; i++)
            {
                clients[i] = await peer.ConnectAsync();
            }

            var creates = new Task<string>[sessions];
            for (var i = 0; i < sessions; i++)
            {
                creates[i] = clients[i].CreateAsync($"/s{i}", Data(size, i), Acl.OpenUnsafe, CreateMode.Persistent).AsTask();
            }

            await Task.WhenAll(creates);
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }
        }

        await using var restarted = await ZkPeer.StartAsync(options);
        await using var again = await restarted.ConnectAsync();
        for (var i = 0; i < sessions; i++)
        {
            Assert.Equal(Data(size, i), (await again.GetDataAsync($"/s{i}")).Data.ToArray());
        }
    }
}
