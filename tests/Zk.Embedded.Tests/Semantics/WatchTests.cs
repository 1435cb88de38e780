using Zk.Embedded.Api;
using Zk.Embedded.Tests.Support;

namespace Zk.Embedded.Tests.Semantics;

/// <summary>
/// One-shot watches set by exists, getData and getChildren (DataTree triggers, WatchManager, ZKWatchManager.materialize).
/// A reply to a later read of the same session comes after every event for a change that read can see, so
/// "no event" is asserted after such a read.
/// </summary>
public sealed class WatchTests
{
    [Fact]
    public async Task An_exists_watch_on_a_missing_node_fires_NodeCreated()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await using var other = await peer.ConnectAsync();
        var watch = new EventRecorder();
        Assert.Null(await zk.ExistsAsync("/n", watch.Watcher));
        await other.CreateAsync("/n");
        var events = await watch.WaitForAsync(EventType.NodeCreated, "/n");
        Assert.Equal(KeeperState.SyncConnected, events[0].State);
    }

    [Fact]
    public async Task An_exists_watch_on_a_node_fires_NodeDataChanged_then_is_gone()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/n");
        var watch = new EventRecorder();
        await zk.ExistsAsync("/n", watch.Watcher);
        await zk.SetDataAsync("/n", [1]);
        await zk.SetDataAsync("/n", [2]);
        await zk.DeleteAsync("/n");
        await zk.ExistsAsync("/n");
        Assert.Equal([new WatchedEvent(EventType.NodeDataChanged, KeeperState.SyncConnected, "/n")], watch.NodeEvents.Select(e => e with { Zxid = -1 }));
    }

    [Fact]
    public async Task A_get_data_watch_fires_NodeDeleted_on_delete()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await using var other = await peer.ConnectAsync();
        await zk.CreateAsync("/n");
        var watch = new EventRecorder();
        await zk.GetDataAsync("/n", watch.Watcher);
        await other.DeleteAsync("/n");
        await watch.WaitForAsync(EventType.NodeDeleted, "/n");
    }

    [Fact]
    public async Task A_get_data_watch_ignores_children_and_acl_changes()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/n");
        var watch = new EventRecorder();
        await zk.GetDataAsync("/n", watch.Watcher);
        await zk.CreateAsync("/n/c");
        await zk.SetAclAsync("/n", Acl.OpenUnsafe);
        await zk.GetDataAsync("/n");
        Assert.Empty(watch.NodeEvents);
    }

    [Fact]
    public async Task A_get_children_watch_fires_NodeChildrenChanged_on_create_and_on_delete()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/p");
        var onCreate = new EventRecorder("child watch before create");
        await zk.GetChildrenAsync("/p", onCreate.Watcher);
        await zk.CreateAsync("/p/c");
        await onCreate.WaitForAsync(EventType.NodeChildrenChanged, "/p");
        var onDelete = new EventRecorder("child watch before delete");
        await zk.GetChildrenWithStatAsync("/p", onDelete.Watcher);
        await zk.DeleteAsync("/p/c");
        await onDelete.WaitForAsync(EventType.NodeChildrenChanged, "/p");
        Assert.Single(onCreate.NodeEvents);
    }

    [Fact]
    public async Task A_get_children_watch_ignores_data_changes_and_grandchildren()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/p");
        await zk.CreateAsync("/p/c");
        var watch = new EventRecorder();
        await zk.GetChildrenAsync("/p", watch.Watcher);
        await zk.SetDataAsync("/p", [1]);
        await zk.SetDataAsync("/p/c", [1]);
        await zk.CreateAsync("/p/c/g");
        await zk.GetChildrenAsync("/p");
        Assert.Empty(watch.NodeEvents);
    }

    [Fact]
    public async Task A_get_children_watch_fires_NodeDeleted_when_the_node_is_deleted()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/p");
        var watch = new EventRecorder();
        await zk.GetChildrenAsync("/p", watch.Watcher);
        await zk.DeleteAsync("/p");
        await watch.WaitForAsync(EventType.NodeDeleted, "/p");
        await zk.ExistsAsync("/p");
        Assert.Single(watch.NodeEvents);
    }

    [Fact]
    public async Task A_watch_fires_once()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/n");
        var watch = new EventRecorder();
        await zk.GetDataAsync("/n", watch.Watcher);
        for (var i = 0; i < 3; i++)
        {
            await zk.SetDataAsync("/n", [(byte)i]);
        }

        await zk.GetDataAsync("/n");
        Assert.Equal(1, watch.Count(EventType.NodeDataChanged, "/n"));
    }

    [Fact]
    public async Task The_same_watcher_set_twice_on_a_path_gets_one_event()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/n");
        var watch = new EventRecorder();
        await zk.GetDataAsync("/n", watch.Watcher);
        await zk.GetDataAsync("/n", watch.Watcher);
        await zk.ExistsAsync("/n", watch.Watcher);
        await zk.SetDataAsync("/n", [1]);
        await zk.GetDataAsync("/n");
        Assert.Single(watch.NodeEvents);
    }

    [Fact]
    public async Task The_same_watcher_as_data_and_child_watch_gets_one_NodeDeleted()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/n");
        var watch = new EventRecorder();
        await zk.GetDataAsync("/n", watch.Watcher);
        await zk.GetChildrenAsync("/n", watch.Watcher);
        await zk.DeleteAsync("/n");
        await zk.ExistsAsync("/n");
        Assert.Equal(1, watch.Count(EventType.NodeDeleted, "/n"));
        Assert.Single(watch.NodeEvents);
    }

    [Fact]
    public async Task Two_different_watchers_each_get_the_event()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await using var other = await peer.ConnectAsync();
        await zk.CreateAsync("/n");
        var first = new EventRecorder("first");
        var second = new EventRecorder("second");
        var third = new EventRecorder("other session");
        await zk.GetDataAsync("/n", first.Watcher);
        await zk.ExistsAsync("/n", second.Watcher);
        await other.GetDataAsync("/n", third.Watcher);
        await zk.SetDataAsync("/n", [1]);
        await first.WaitForAsync(EventType.NodeDataChanged, "/n");
        await second.WaitForAsync(EventType.NodeDataChanged, "/n");
        await third.WaitForAsync(EventType.NodeDataChanged, "/n");
    }

    [Fact]
    public async Task A_get_data_on_a_missing_node_sets_no_watch()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        var watch = new EventRecorder();
        await ZkTest.ThrowsAsync(ZkErrorCode.NoNode, async () => await zk.GetDataAsync("/n", watch.Watcher));
        await ZkTest.ThrowsAsync(ZkErrorCode.NoNode, async () => await zk.GetChildrenAsync("/n", watch.Watcher));
        await zk.CreateAsync("/n");
        await zk.CreateAsync("/n/c");
        await zk.GetDataAsync("/n");
        Assert.Empty(watch.NodeEvents);
    }

    [Fact]
    public async Task The_event_for_an_own_write_comes_before_its_reply()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/n");
        for (var i = 0; i < 20; i++)
        {
            var watch = new EventRecorder();
            await zk.GetDataAsync("/n", watch.Watcher);
            await zk.SetDataAsync("/n", [(byte)i]);
            Assert.True(watch.NodeEvents.Count == 1, $"round {i}: event not delivered before the setData reply; saw {watch}");
        }
    }

    [Fact]
    public async Task The_event_comes_before_the_reply_to_a_later_read_that_shows_the_change()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await using var writer = await peer.ConnectAsync();
        await zk.CreateAsync("/n");
        for (var i = 1; i <= 20; i++)
        {
            var watch = new EventRecorder();
            await zk.GetDataAsync("/n", watch.Watcher);
            var write = writer.SetDataAsync("/n", [(byte)i]).AsTask();
            var deadline = DateTime.UtcNow + EventRecorder.DefaultDeadline;
            while (true)
            {
                var (_, stat) = await zk.GetDataAsync("/n");
                var seen = watch.NodeEvents.Count;
                if (stat.Version == i)
                {
                    Assert.True(seen == 1, $"round {i}: a read showed version {i} before the NodeDataChanged event; saw {watch}");
                    break;
                }

                Assert.True(DateTime.UtcNow < deadline, $"round {i}: expected to read version {i}, still at {stat.Version}");
            }

            await write;
        }
    }

    [Fact]
    public async Task Events_of_one_session_arrive_in_zxid_order()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await using var writer = await peer.ConnectAsync();
        var watch = new EventRecorder();
        var paths = Enumerable.Range(0, 20).Select(i => $"/n{i}").ToArray();
        foreach (var path in paths)
        {
            await zk.ExistsAsync(path, watch.Watcher);
        }

        foreach (var path in paths)
        {
            await writer.CreateAsync(path);
        }

        var events = await watch.WaitForAsync(e => e.Count(x => x.Type == EventType.NodeCreated) == paths.Length, "20 NodeCreated events");
        Assert.Equal(paths, events.Where(e => e.Type == EventType.NodeCreated).Select(e => e.Path));
    }

    [Fact]
    public async Task A_watcher_that_throws_does_not_stop_later_events()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/n");
        await zk.GetDataAsync("/n", _ => throw new InvalidOperationException("watcher bug"));
        await zk.SetDataAsync("/n", [1]);
        var watch = new EventRecorder();
        await zk.GetDataAsync("/n", watch.Watcher);
        await zk.SetDataAsync("/n", [2]);
        await watch.WaitForAsync(EventType.NodeDataChanged, "/n");
        await ZkTest.AssertServesAsync(zk);
    }
}
