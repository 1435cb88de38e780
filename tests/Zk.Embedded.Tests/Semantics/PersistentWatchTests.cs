using Zk.Embedded.Api;
using Zk.Embedded.Tests.Support;

namespace Zk.Embedded.Tests.Semantics;

/// <summary>addWatch: persistent and persistent-recursive watches (DataTree.addWatch, WatchManager.triggerWatch).</summary>
public sealed class PersistentWatchTests
{
    private static IReadOnlyList<(EventType, string?)> Seen(EventRecorder recorder) =>
        recorder.NodeEvents.Select(e => (e.Type, e.Path)).ToArray();

    [Fact]
    public async Task A_persistent_watch_sees_every_data_and_child_change_of_its_node_and_stays()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        var watch = new EventRecorder();
        await zk.AddWatchAsync("/p", watch.Watcher, AddWatchMode.Persistent);
        await zk.CreateAsync("/p");
        await zk.SetDataAsync("/p", [1]);
        await zk.SetDataAsync("/p", [2]);
        await zk.CreateAsync("/p/c");
        await zk.CreateAsync("/p/c/g");
        await zk.SetDataAsync("/p/c", [1]);
        await zk.DeleteAsync("/p/c/g");
        await zk.DeleteAsync("/p/c");
        await zk.DeleteAsync("/p");
        await zk.CreateAsync("/p");
        await zk.ExistsAsync("/p");
        Assert.Equal(
            [
                (EventType.NodeCreated, "/p"),
                (EventType.NodeDataChanged, "/p"),
                (EventType.NodeDataChanged, "/p"),
                (EventType.NodeChildrenChanged, "/p"),
                (EventType.NodeChildrenChanged, "/p"),
                (EventType.NodeDeleted, "/p"),
                (EventType.NodeCreated, "/p"),
            ],
            Seen(watch));
    }

    [Fact]
    public async Task A_recursive_watch_sees_data_events_of_the_node_and_all_descendants_but_no_child_events()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        var watch = new EventRecorder();
        await zk.AddWatchAsync("/r", watch.Watcher, AddWatchMode.PersistentRecursive);
        await zk.CreateAsync("/r");
        await zk.CreateAsync("/r/a");
        await zk.CreateAsync("/r/a/b");
        await zk.SetDataAsync("/r/a/b", [1]);
        await zk.SetDataAsync("/r", [1]);
        await zk.DeleteAsync("/r/a/b");
        await zk.CreateAsync("/rx");
        await zk.ExistsAsync("/r");
        Assert.Equal(
            [
                (EventType.NodeCreated, "/r"),
                (EventType.NodeCreated, "/r/a"),
                (EventType.NodeCreated, "/r/a/b"),
                (EventType.NodeDataChanged, "/r/a/b"),
                (EventType.NodeDataChanged, "/r"),
                (EventType.NodeDeleted, "/r/a/b"),
            ],
            Seen(watch));
    }

    [Fact]
    public async Task A_recursive_watch_on_the_root_sees_every_node()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await using var other = await peer.ConnectAsync();
        var watch = new EventRecorder();
        await zk.AddWatchAsync("/", watch.Watcher, AddWatchMode.PersistentRecursive);
        await other.CreateAsync("/x");
        await other.CreateAsync("/x/y", CreateMode.Ephemeral);
        await watch.WaitForAsync(EventType.NodeCreated, "/x/y");
        Assert.Equal([(EventType.NodeCreated, "/x"), (EventType.NodeCreated, "/x/y")], Seen(watch));
    }

    [Fact]
    public async Task A_persistent_watch_and_a_one_shot_watch_of_one_watcher_give_one_event()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/p");
        var watch = new EventRecorder();
        await zk.AddWatchAsync("/p", watch.Watcher, AddWatchMode.Persistent);
        await zk.GetDataAsync("/p", watch.Watcher);
        await zk.SetDataAsync("/p", [1]);
        await zk.SetDataAsync("/p", [2]);
        await zk.ExistsAsync("/p");
        Assert.Equal([(EventType.NodeDataChanged, "/p"), (EventType.NodeDataChanged, "/p")], Seen(watch));
    }

    [Fact]
    public async Task A_one_shot_watch_next_to_a_persistent_one_still_fires_only_once()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/p");
        var persistent = new EventRecorder("persistent");
        var oneShot = new EventRecorder("one-shot");
        await zk.AddWatchAsync("/p", persistent.Watcher, AddWatchMode.PersistentRecursive);
        await zk.GetDataAsync("/p", oneShot.Watcher);
        await zk.SetDataAsync("/p", [1]);
        await zk.SetDataAsync("/p", [2]);
        await zk.ExistsAsync("/p");
        Assert.Equal(2, persistent.Count(EventType.NodeDataChanged, "/p"));
        Assert.Equal(1, oneShot.Count(EventType.NodeDataChanged, "/p"));
    }

    [Fact]
    public async Task Add_watch_with_an_invalid_path_fails_with_BadArguments()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        var watch = new EventRecorder();
        await ZkTest.ThrowsAsync(ZkErrorCode.BadArguments, async () => await zk.AddWatchAsync("/a/", watch.Watcher, AddWatchMode.Persistent));
        await ZkTest.ThrowsAsync(ZkErrorCode.BadArguments, async () => await zk.AddWatchAsync("a", watch.Watcher, AddWatchMode.PersistentRecursive));
        await ZkTest.AssertServesAsync(zk);
        Assert.Empty(watch.NodeEvents);
    }

    [Fact]
    public async Task Removing_a_persistent_watch_with_Any_sends_PersistentWatchRemoved_and_stops_events()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        var watch = new EventRecorder();
        await zk.AddWatchAsync("/p", watch.Watcher, AddWatchMode.PersistentRecursive);
        await zk.RemoveWatchesAsync("/p", watch.Watcher, WatcherType.Any);
        await watch.WaitForAsync(EventType.PersistentWatchRemoved, "/p");
        await zk.CreateAsync("/p");
        await zk.ExistsAsync("/p");
        Assert.Equal([(EventType.PersistentWatchRemoved, "/p")], Seen(watch));
    }

    [Theory]
    [InlineData(WatcherType.Data)]
    [InlineData(WatcherType.Children)]
    public async Task A_persistent_watch_is_not_removed_as_a_data_or_child_watch(WatcherType type)
    {
        // ZKWatchManager.containsWatcher looks only at data/exist watches for Data and child watches for Children,
        // so the Java client throws NoWatcher before sending anything, and the persistent watch stays.
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        var watch = new EventRecorder();
        await zk.AddWatchAsync("/p", watch.Watcher, AddWatchMode.Persistent);
        await ZkTest.ThrowsAsync(ZkErrorCode.NoWatcher, async () => await zk.RemoveWatchesAsync("/p", watch.Watcher, type));
        await zk.CreateAsync("/p");
        await watch.WaitForAsync(EventType.NodeCreated, "/p");
    }
}
