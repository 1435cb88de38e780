using Zk.Embedded.Api;
using Zk.Embedded.Tests.Support;

namespace Zk.Embedded.Tests.Semantics;

/// <summary>removeWatches / removeAllWatches (ZKWatchManager.removeWatcher, ClientCnxn.finishPacket).</summary>
public sealed class RemoveWatchTests
{
    private static IReadOnlyList<(EventType, string?)> Seen(EventRecorder recorder) =>
        recorder.NodeEvents.Select(e => (e.Type, e.Path)).ToArray();

    [Fact]
    public async Task Removing_a_data_watch_sends_DataWatchRemoved_and_stops_the_watch()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/n");
        var watch = new EventRecorder();
        await zk.GetDataAsync("/n", watch.Watcher);
        await zk.RemoveWatchesAsync("/n", watch.Watcher, WatcherType.Data);
        await zk.SetDataAsync("/n", [1]);
        await zk.GetDataAsync("/n");
        Assert.Equal([(EventType.DataWatchRemoved, "/n")], Seen(watch));
        Assert.Equal(KeeperState.SyncConnected, watch.NodeEvents[0].State);
    }

    [Fact]
    public async Task Removing_an_exists_watch_on_a_missing_node_sends_DataWatchRemoved()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        var watch = new EventRecorder();
        await zk.ExistsAsync("/n", watch.Watcher);
        await zk.RemoveWatchesAsync("/n", watch.Watcher, WatcherType.Data);
        await zk.CreateAsync("/n");
        await zk.ExistsAsync("/n");
        Assert.Equal([(EventType.DataWatchRemoved, "/n")], Seen(watch));
    }

    [Fact]
    public async Task Removing_a_child_watch_sends_ChildWatchRemoved_and_leaves_the_data_watch()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/n");
        var watch = new EventRecorder();
        await zk.GetChildrenAsync("/n", watch.Watcher);
        await zk.GetDataAsync("/n", watch.Watcher);
        await zk.RemoveWatchesAsync("/n", watch.Watcher, WatcherType.Children);
        await zk.CreateAsync("/n/c");
        await zk.SetDataAsync("/n", [1]);
        await zk.GetDataAsync("/n");
        Assert.Equal([(EventType.ChildWatchRemoved, "/n"), (EventType.NodeDataChanged, "/n")], Seen(watch));
    }

    [Fact]
    public async Task Removing_with_Any_sends_one_event_per_kind_removed()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/n");
        var watch = new EventRecorder();
        await zk.GetChildrenAsync("/n", watch.Watcher);
        await zk.GetDataAsync("/n", watch.Watcher);
        await zk.RemoveWatchesAsync("/n", watch.Watcher, WatcherType.Any);
        await zk.DeleteAsync("/n");
        await zk.ExistsAsync("/n");
        Assert.Equal(
            [(EventType.ChildWatchRemoved, "/n"), (EventType.DataWatchRemoved, "/n")],
            Seen(watch).OrderBy(e => e.Item1 == EventType.DataWatchRemoved));
    }

    [Fact]
    public async Task Removing_a_watch_that_is_not_there_fails_with_NoWatcher()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/n");
        var watch = new EventRecorder("registered");
        var stranger = new EventRecorder("never registered");
        await ZkTest.ThrowsAsync(ZkErrorCode.NoWatcher, async () => await zk.RemoveWatchesAsync("/n", watch.Watcher, WatcherType.Any));
        await ZkTest.ThrowsAsync(ZkErrorCode.NoWatcher, async () => await zk.RemoveAllWatchesAsync("/n", WatcherType.Any));
        await zk.GetDataAsync("/n", watch.Watcher);
        await ZkTest.ThrowsAsync(ZkErrorCode.NoWatcher, async () => await zk.RemoveWatchesAsync("/n", stranger.Watcher, WatcherType.Data));
        await ZkTest.ThrowsAsync(ZkErrorCode.NoWatcher, async () => await zk.RemoveWatchesAsync("/n", watch.Watcher, WatcherType.Children));
        await ZkTest.ThrowsAsync(ZkErrorCode.NoWatcher, async () => await zk.RemoveAllWatchesAsync("/n", WatcherType.Children));
        await ZkTest.ThrowsAsync(ZkErrorCode.NoWatcher, async () => await zk.RemoveWatchesAsync("/other", watch.Watcher, WatcherType.Data));
        await zk.SetDataAsync("/n", [1]);
        await watch.WaitForAsync(EventType.NodeDataChanged, "/n");
        await zk.GetDataAsync("/n");
        Assert.Empty(stranger.Events);
    }

    [Fact]
    public async Task A_watch_that_already_fired_cannot_be_removed()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/n");
        var watch = new EventRecorder();
        await zk.GetDataAsync("/n", watch.Watcher);
        await zk.SetDataAsync("/n", [1]);
        await ZkTest.ThrowsAsync(ZkErrorCode.NoWatcher, async () => await zk.RemoveWatchesAsync("/n", watch.Watcher, WatcherType.Data));
    }

    [Fact]
    public async Task Removing_one_watcher_leaves_the_others_on_the_path()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/n");
        var removed = new EventRecorder("removed");
        var kept = new EventRecorder("kept");
        await zk.GetDataAsync("/n", removed.Watcher);
        await zk.GetDataAsync("/n", kept.Watcher);
        await zk.RemoveWatchesAsync("/n", removed.Watcher, WatcherType.Data);
        await zk.SetDataAsync("/n", [1]);
        await kept.WaitForAsync(EventType.NodeDataChanged, "/n");
        Assert.Equal([(EventType.DataWatchRemoved, "/n")], Seen(removed));
    }

    [Fact]
    public async Task Remove_all_watches_removes_every_watcher_and_tells_each()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/n");
        var first = new EventRecorder("first");
        var second = new EventRecorder("second");
        await zk.GetDataAsync("/n", first.Watcher);
        await zk.ExistsAsync("/n", second.Watcher);
        await zk.RemoveAllWatchesAsync("/n", WatcherType.Data);
        await zk.SetDataAsync("/n", [1]);
        await zk.GetDataAsync("/n");
        Assert.Equal([(EventType.DataWatchRemoved, "/n")], Seen(first));
        Assert.Equal([(EventType.DataWatchRemoved, "/n")], Seen(second));
    }

    [Fact]
    public async Task Removing_locally_also_stops_the_watch()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/n");
        var watch = new EventRecorder();
        await zk.GetChildrenAsync("/n", watch.Watcher);
        await zk.RemoveWatchesAsync("/n", watch.Watcher, WatcherType.Children, local: true);
        await zk.CreateAsync("/n/c");
        await zk.GetChildrenAsync("/n");
        Assert.Equal([(EventType.ChildWatchRemoved, "/n")], Seen(watch));
    }

    [Fact]
    public async Task Remove_watches_with_an_invalid_path_fails_with_BadArguments()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        var watch = new EventRecorder();
        await ZkTest.ThrowsAsync(ZkErrorCode.BadArguments, async () => await zk.RemoveWatchesAsync("/n/", watch.Watcher, WatcherType.Any));
        await ZkTest.ThrowsAsync(ZkErrorCode.BadArguments, async () => await zk.RemoveAllWatchesAsync("n", WatcherType.Any));
    }
}
