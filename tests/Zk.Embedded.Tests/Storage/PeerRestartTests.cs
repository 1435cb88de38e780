using Microsoft.Extensions.Time.Testing;
using Zk.Embedded.Api;
using Zk.Embedded.Storage;

namespace Zk.Embedded.Tests.Storage;

/// <summary>A peer with a dataDir restarts to exactly the state it had: tree, zxid, sessions and their ephemerals.</summary>
public sealed class PeerRestartTests
{
    [Fact]
    public async Task A_restarted_peer_has_the_same_tree_zxid_and_sessions()
    {
        using var dir = new TempDirectory();
        var options = new ZkPeerOptions { DataDir = dir.Path };
        Tree.TreeState before;
        long ownerId;
        byte[] password;
        await using (var peer = await ZkPeer.StartAsync(options))
        {
            var zk = await peer.ConnectAsync();
            await zk.CreateAsync("/app", "v1"u8.ToArray(), Acl.OpenUnsafe, CreateMode.Persistent);
            await zk.CreateAsync("/app/s-", null, Acl.OpenUnsafe, CreateMode.PersistentSequential);
            await zk.CreateAsync("/app/e", [9], Acl.OpenUnsafe, CreateMode.Ephemeral);
            await zk.SetDataAsync("/app", "v2"u8.ToArray());
            await zk.MultiAsync([Op.Create("/app/m", null, Acl.OpenUnsafe, CreateMode.Persistent), Op.Delete("/app/s-0000000000")]);
            ownerId = zk.SessionId;
            password = zk.SessionPassword.ToArray();
            before = peer.Core.Pipeline.State;
        }

        await using (var restarted = await ZkPeer.StartAsync(options))
        {
            var after = restarted.Core.Pipeline.State;
            StorageAssert.SameState(before, after);
            Assert.Equal(before.Zxid.Value, restarted.LastZxid);
            // The session outlives the restart, as in ZooKeeper: its owner can re-attach and its ephemeral is there.
            await using var again = await restarted.ConnectAsync(new ZkSessionOptions { SessionId = ownerId, SessionPassword = password });
            Assert.Equal([9], (await again.GetDataAsync("/app/e")).Data.ToArray());
            await again.CreateAsync("/after", null, Acl.OpenUnsafe, CreateMode.Persistent);
            Assert.True(restarted.LastZxid > before.Zxid.Value, "new txns continue after the recovered zxid");
        }
    }

    [Fact]
    public async Task Snapshots_are_taken_every_snapCount_txns_and_recovery_uses_them()
    {
        using var dir = new TempDirectory();
        var options = new ZkPeerOptions { DataDir = dir.Path, SnapCount = 10 };
        Tree.TreeState before;
        await using (var peer = await ZkPeer.StartAsync(options))
        {
            await using var zk = await peer.ConnectAsync();
            for (var i = 0; i < 60; i++)
            {
                await zk.CreateAsync($"/n{i}", [(byte)i], Acl.OpenUnsafe, CreateMode.Persistent);
            }

            await Support.Eventually.TrueAsync(() => SnapshotFile.List(dir.Path).Count > 0, "a snapshot file after 60 txns with snapCount 10");
            await zk.CloseAsync();
            before = peer.Core.Pipeline.State;
        }

        Assert.NotEmpty(SnapshotFile.List(dir.Path));
        await using var restarted = await ZkPeer.StartAsync(options);
        StorageAssert.SameState(before, restarted.Core.Pipeline.State);
    }

    [Fact]
    public async Task Autopurge_keeps_snapRetainCount_snapshots_and_recovery_still_gives_the_same_state()
    {
        using var dir = new TempDirectory();
        var time = new FakeTimeProvider(new DateTimeOffset(2024, 1, 1, 0, 0, 0, TimeSpan.Zero));
        // Sessions outlive the hour the clock jumps, so no closeSession txn (and no new snapshot) follows the purge.
        var options = new ZkPeerOptions { DataDir = dir.Path, SnapCount = 10, PurgeInterval = TimeSpan.FromHours(1), Time = time, MaxSessionTimeout = TimeSpan.FromHours(10) };
        Tree.TreeState before;
        await using (var peer = await ZkPeer.StartAsync(options))
        {
            await using var zk = await peer.ConnectAsync(new ZkSessionOptions { SessionTimeout = TimeSpan.FromHours(5) });
            for (var i = 0; i < 120; i++)
            {
                await zk.CreateAsync($"/n{i}", [(byte)i], Acl.OpenUnsafe, CreateMode.Persistent);
            }

            await Support.Eventually.TrueAsync(() => SnapshotFile.List(dir.Path).Count > 3, "more than 3 snapshots after 120 txns with snapCount 10, before the purge");
            // Snapshots are written in the background; the purge keeps the newest 3 of those on disk when it runs.
            await peer.DurableStorage!.SnapshotInFlight;
            time.Advance(TimeSpan.FromHours(1));
            await Support.Eventually.TrueAsync(() => SnapshotFile.List(dir.Path).Count == 3, $"the purge to keep exactly 3 snapshots (has {string.Join(", ", Directory.GetFiles(dir.Path).Select(Path.GetFileName))})");
            await peer.DurableStorage!.PurgeInFlight; // the log's part of the purge runs on after the snapshots went
            await zk.CloseAsync();
            before = peer.Core.Pipeline.State;
        }

        await using var restarted = await ZkPeer.StartAsync(options with { PurgeInterval = TimeSpan.Zero });
        StorageAssert.SameState(before, restarted.Core.Pipeline.State);
    }

    [Fact]
    public async Task A_recovered_session_that_nobody_re_attaches_expires_and_its_ephemerals_go()
    {
        using var dir = new TempDirectory();
        var time = new FakeTimeProvider(new DateTimeOffset(2024, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var options = new ZkPeerOptions { DataDir = dir.Path, Time = time, TickTime = TimeSpan.FromMilliseconds(100) };
        await using (var peer = await ZkPeer.StartAsync(options))
        {
            var zk = await peer.ConnectAsync(new ZkSessionOptions { SessionTimeout = TimeSpan.FromSeconds(1) });
            await zk.CreateAsync("/e", null, Acl.OpenUnsafe, CreateMode.Ephemeral);
        }

        await using var restarted = await ZkPeer.StartAsync(options);
        Assert.Equal(1, restarted.SessionCount);
        for (var i = 0; i < 20; i++)
        {
            time.Advance(TimeSpan.FromMilliseconds(100));
        }

        await Support.Eventually.TrueAsync(() => restarted.Core.Pipeline.State.Find("/e") is null, "the recovered session to expire and take /e with it");
        Assert.Equal(0, restarted.SessionCount);
    }

    [Fact]
    public async Task Without_a_dataDir_nothing_is_written()
    {
        using var dir = new TempDirectory();
        var cwd = Environment.CurrentDirectory;
        await using (var peer = await ZkPeer.StartAsync(new ZkPeerOptions()))
        {
            await using var zk = await peer.ConnectAsync();
            await zk.CreateAsync("/x", null, Acl.OpenUnsafe, CreateMode.Persistent);
        }

        Assert.False(Directory.Exists(Path.Combine(cwd, "zkdata")), "an in-memory peer must not create ./zkdata");
    }

    [Fact]
    public async Task A_second_zk_on_a_data_dir_in_use_says_so_and_exits_without_a_stack_trace()
    {
        using var dir = new TempDirectory();
        await using var running = await ZkPeer.StartAsync(new ZkPeerOptions { DataDir = dir.Path });
        var config = dir.File("zoo.cfg");
        File.WriteAllText(config, $"dataDir={dir.Path}\nclientPort=0\n");
        using var second = ZkChildProcess.Start(config, dir.Path);
        var code = second.WaitForExit(TimeSpan.FromSeconds(60));
        Assert.True(code == 2, $"expected exit code 2, got {code}:\n{second.RecentOutput}");
        Assert.Contains("zk: ", second.RecentOutput, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", second.RecentOutput, StringComparison.Ordinal);
    }
}
