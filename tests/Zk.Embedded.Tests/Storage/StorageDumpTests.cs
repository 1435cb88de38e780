using Zk.Embedded.Api;
using Zk.Embedded.Storage;

namespace Zk.Embedded.Tests.Storage;

/// <summary>The dump verbs print what recovery will see: every logged txn, and a snapshot's sessions and znodes.</summary>
public sealed class StorageDumpTests
{
    [Fact]
    public async Task The_log_dump_lists_every_txn_in_zxid_order_and_the_snapshot_dump_every_znode()
    {
        using var dir = new TempDirectory();
        var writes = 3;
        await using (var peer = await ZkPeer.StartAsync(new ZkPeerOptions { DataDir = dir.Path, SnapCount = 2 }))
        {
            await using var zk = await peer.ConnectAsync();
            await zk.CreateAsync("/d", "hello"u8.ToArray(), Acl.OpenUnsafe, CreateMode.Persistent);
            await zk.SetDataAsync("/d", "world"u8.ToArray());
            await zk.CreateAsync("/d/e", null, Acl.OpenUnsafe, CreateMode.Ephemeral);

            // Snapshots are of the published state when a batch is written, and skipped while one is being written, so
            // write on (to another node) until one holds /d: a liveness bound, not a timing assumption.
            var extra = 0;
            while (!SnapshotFile.List(dir.Path).Any(s => s.Zxid >= new Zxid(3)))
            {
                Assert.True(extra < 10_000, "expected a snapshot holding /d within 10,000 more writes with snapCount 2");
                await zk.CreateAsync("/more-" + extra++, null, Acl.OpenUnsafe, CreateMode.Persistent);
            }

            writes += extra;
        }

        var log = new StringWriter();
        var count = StorageDump.DumpLog(dir.Path, log);
        var lines = log.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(count == writes + 2, $"expected createSession, {writes} writes, closeSession; got {count}:\n{log}");
        Assert.Contains(lines, l => l.Contains("zxid 0x2 create /d data \"hello\"", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("zxid 0x3 setData /d data \"world\" version 1", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains($"zxid 0x{writes + 2:x} closeSession", StringComparison.Ordinal));

        var snapshot = new StringWriter();
        StorageDump.DumpSnapshot(SnapshotFile.List(dir.Path).First(s => s.Zxid >= new Zxid(3)).Path, snapshot);
        Assert.Contains("/zookeeper/config ", snapshot.ToString(), StringComparison.Ordinal);
        Assert.Contains("/d ", snapshot.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void The_log_dump_of_a_crashed_peers_files_leaves_them_as_it_found_them()
    {
        using var dir = new TempDirectory();
        using (var log = TxnLog.Open(dir.Path, new TxnLogOptions { CheckpointPages = 1000 })) // not the default: the dump must not set it
        {
            log.Append(TxnLogTests.Batch(1, 50));
            log.Append(TxnLogTests.Batch(51, 50));
            log.CloseLikeACrash(); // the WAL holds both commits; a clean close would have checkpointed them
        }

        var files = Directory.GetFiles(dir.Path).Order(StringComparer.Ordinal).ToArray();
        var before = files.Select(File.ReadAllBytes).ToArray();
        Assert.Equal(100, StorageDump.DumpLog(dir.Path, new StringWriter()));
        for (var i = 0; i < files.Length; i++)
        {
            Assert.True(before[i].AsSpan().SequenceEqual(File.ReadAllBytes(files[i])), $"expected {Path.GetFileName(files[i])} unchanged by the dump");
        }
    }

    [Fact]
    public void The_log_dump_of_a_directory_without_a_log_says_so_and_creates_nothing()
    {
        using var dir = new TempDirectory();
        var missing = Path.Combine(dir.Path, "no-such-dir");
        var e = Assert.Throws<FileNotFoundException>(() => StorageDump.DumpLog(missing, new StringWriter()));
        Assert.Contains("No txn log in", e.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(missing), "the dump should not have created the directory");
    }
}
