using System.Net;
using System.Runtime.CompilerServices;
using Zk.Embedded.Txns;
using Zk.Embedded.Api;
using Zk.Embedded.Processing;
using Zk.Embedded.Storage;
using Zk.Embedded.Tests.Wire;
using Zk.Embedded.Wire.Client;

namespace Zk.Embedded.Tests.Storage;

/// <summary>
/// A peer whose txn log cannot be written (a real full disk: a small tmpfs) stops serving writes visibly: its
/// <see cref="ZkPeer.Faulted"/> completes, ruok no longer says imok, srvr says it is not serving, disposing it does not
/// throw, and the zk program exits with code 1 for a supervisor to restart it.
/// </summary>
public sealed class FullDiskTests
{
    private const int DiskMegabytes = 8;
    private const int NodeBytes = 200_000;

    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    private static async Task<string> AskAsync(IPEndPoint endPoint, string word)
    {
        using var client = await RawWireClient.OpenAsync(endPoint);
        client.SendRaw(System.Text.Encoding.ASCII.GetBytes(word));
        return client.ReceiveTextToEnd();
    }

    /// <summary>Creates 200 KB znodes until one fails; returns the paths acknowledged before it.</summary>
    private static async Task<List<string>> WriteUntilAWriteFailsAsync(IZooKeeper zk)
    {
        var acknowledged = new List<string>();
        for (var i = 0; i < 10 * DiskMegabytes * 1_000_000 / NodeBytes; i++)
        {
            try
            {
                acknowledged.Add(await zk.CreateAsync($"/n{i}", new byte[NodeBytes], Acl.OpenUnsafe, CreateMode.Persistent));
            }
            catch (ZkException e) when (e.Code == ZkErrorCode.ConnectionLoss)
            {
                return acknowledged;
            }
        }

        Assert.Fail($"{acknowledged.Count} writes of {NodeBytes} bytes fit a {DiskMegabytes} MB disk");
        return acknowledged;
    }

    [SkippableFact]
    public async Task A_peer_whose_disk_is_full_stops_serving_writes_visibly_and_disposes_without_throwing()
    {
        using var disk = TmpfsMount.Create(DiskMegabytes);
        await FillUntilFaultedThenDisposeAsync(disk);

        // LiteDB leaves the transaction that met the full disk to its finalizer, which throws on the finalizer
        // thread (and so ends the process) unless the log disposed of it: run the finalizers now, not at a random
        // GC. The peer is unreachable here (it lived in the method above).
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }

    private static async Task FillUntilFaultedThenDisposeAsync(TmpfsMount disk)
    {
        var peer = await ZkPeer.StartAsync(new ZkPeerOptions { DataDir = disk.Path, ClientPort = 0, FourLetterWordWhitelist = "*" });
        var zk = await peer.ConnectAsync();
        await WriteUntilAWriteFailsAsync(zk);

        var fault = await peer.Faulted.WaitAsync(Deadline);
        Assert.IsAssignableFrom<IOException>(fault is IOException ? fault : fault.InnerException ?? fault);
        var endPoint = peer.ClientEndPoint!;
        Assert.Equal("", await AskAsync(endPoint, "ruok"));
        Assert.Contains("not currently serving requests", await AskAsync(endPoint, "srvr"), StringComparison.Ordinal);
        var refused = await Assert.ThrowsAsync<ZkException>(async () => await peer.ConnectAsync());
        Assert.Equal(ZkErrorCode.ConnectionLoss, refused.Code);

        // Its close is a txn, which fails like any write now (CloseAsync throws ConnectionLoss); disposing does not throw.
        await zk.DisposeAsync();
        await peer.DisposeAsync();
        disk.AssertNothingOpen();
    }

    [SkippableFact]
    public async Task Zk_start_on_a_disk_that_fills_exits_1_with_a_message_and_restarts_with_every_acknowledged_write()
    {
        using var disk = TmpfsMount.Create(DiskMegabytes);
        using var dir = new TempDirectory();
        var config = dir.File("zoo.cfg");
        File.WriteAllText(config, $"dataDir={disk.Path}\nclientPort={Interop.InteropTools.FreeLoopbackPort()}\nclientPortAddress=127.0.0.1\n");

        var endPoint = new IPEndPoint(IPAddress.Loopback, int.Parse(File.ReadAllLines(config)[1].Split('=')[1], System.Globalization.CultureInfo.InvariantCulture));
        List<string> acknowledged;
        using (var zk = ZkChildProcess.Start(config, dir.Path))
        {
            await zk.WaitUntilServingAsync(endPoint, Deadline);
            await using (var client = await ZkClient.ConnectAsync(endPoint.ToString()))
            {
                acknowledged = await WriteUntilAWriteFailsAsync(client);
            }

            var code = zk.WaitForExit(Deadline);
            Assert.True(code == 1, $"expected exit code 1, got {code}:\n{zk.RecentOutput}");
            Assert.Contains("zk: the peer stopped serving writes", zk.RecentOutput, StringComparison.Ordinal);
            Assert.DoesNotContain("Unhandled exception", zk.RecentOutput, StringComparison.Ordinal);
        }

        // Room again (the operator's part): the restarted peer has every write it acknowledged.
        disk.Resize(4 * DiskMegabytes);
        await using var restarted = await ZkPeer.StartAsync(new ZkPeerOptions { DataDir = disk.Path });
        await using var reader = await restarted.ConnectAsync();
        foreach (var path in acknowledged)
        {
            Assert.NotNull(await reader.ExistsAsync(path));
        }
    }

    [SkippableFact]
    public void A_log_whose_disk_fills_in_a_batch_of_several_documents_is_disposed_and_collected_without_ending_the_process()
    {
        using var disk = TmpfsMount.Create(DiskMegabytes);
        FillALogInBatchesOfSeveralDocumentsUntilAWriteFails(disk.Path);

        // A LiteDB transaction that met the full disk was left to its finalizer, which threw on the finalizer thread
        // and so ended the test host ("discarded page must be writable"): run the finalizers now, not at a random GC.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        disk.AssertNothingOpen();
    }

    /// <summary>Batches of 6 MB (two LiteDB documents, one explicit LiteDB transaction) until one fails; then disposes the log.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void FillALogInBatchesOfSeveralDocumentsUntilAWriteFails(string path)
    {
        var log = TxnLog.Open(path);
        var zxid = 0L;
        try
        {
            for (var batch = 0; batch < 10; batch++)
            {
                var txns = new List<Txn>();
                for (var i = 0; i < 6; i++)
                {
                    zxid++;
                    txns.Add(new Txn(new Zxid(zxid), new SessionId(7), zxid, new SetDataTxn("/n", new byte[1_000_000], (int)zxid)));
                }

                log.Append(txns);
            }

            Assert.Fail($"ten batches of 6 MB fit a {DiskMegabytes} MB disk");
        }
        catch (IOException)
        {
            // The disk is full: what the test is about.
        }
        finally
        {
            log.Dispose();
        }
    }
}
