using Zk.Embedded.Api;
using Zk.Embedded.Tests.Support;

namespace Zk.Embedded.Tests.Wire.Client;

/// <summary>What every <see cref="IZooKeeper"/> does with watches; run three ways like <see cref="NodeContract"/>.</summary>
public abstract class WatchContract(IZkServer server)
{
    protected IZkServer Server { get; } = server;

    protected string Root { get; } = "/watch-" + Guid.NewGuid().ToString("N")[..12];

    [SkippableFact]
    public async Task The_default_watcher_hears_SyncConnected()
    {
        var session = new EventRecorder("default");
        await using var zk = await Server.ConnectAsync(session.Watcher);
        await session.WaitForStateAsync(KeeperState.SyncConnected);
        Assert.Equal(SessionState.Connected, zk.State);
    }

    [SkippableFact]
    public async Task An_exists_watch_on_a_missing_node_fires_NodeCreated_once()
    {
        await using var zk = await Server.ConnectAsync();
        await using var other = await Server.ConnectAsync();
        var watch = new EventRecorder("exists");
        Assert.Null(await zk.ExistsAsync(Root, watch.Watcher));
        await other.CreateAsync(Root);
        await watch.WaitForAsync(EventType.NodeCreated, Root);
        await other.SetDataAsync(Root, [1]);
        await zk.SyncAsync(Root);
        await zk.ExistsAsync(Root);
        Assert.Single(watch.NodeEvents);
    }

    [SkippableFact]
    public async Task A_data_watch_fires_NodeDataChanged_once_then_needs_setting_again()
    {
        await using var zk = await Server.ConnectAsync();
        await using var other = await Server.ConnectAsync();
        await other.CreateAsync(Root);
        var watch = new EventRecorder("data");
        await zk.GetDataAsync(Root, watch.Watcher);
        await other.SetDataAsync(Root, [1]);
        await other.SetDataAsync(Root, [2]);
        await watch.WaitForAsync(EventType.NodeDataChanged, Root);
        await zk.SyncAsync(Root);
        Assert.Equal([2], (await zk.GetDataAsync(Root)).Data.ToArray());
        Assert.Single(watch.NodeEvents);

        await zk.GetDataAsync(Root, watch.Watcher);
        await other.DeleteAsync(Root);
        await watch.WaitForAsync(EventType.NodeDeleted, Root);
    }

    [SkippableFact]
    public async Task A_get_data_on_a_missing_node_sets_no_watch()
    {
        await using var zk = await Server.ConnectAsync();
        var watch = new EventRecorder("data");
        await ZkTest.ThrowsAsync(ZkErrorCode.NoNode, async () => await zk.GetDataAsync(Root, watch.Watcher));
        await zk.CreateAsync(Root);
        await zk.SetDataAsync(Root, [1]);
        await zk.SyncAsync(Root);
        await zk.GetDataAsync(Root);
        Assert.Empty(watch.Events);
    }

    [SkippableFact]
    public async Task A_child_watch_fires_NodeChildrenChanged_and_NodeDeleted_on_the_parent()
    {
        await using var zk = await Server.ConnectAsync();
        await zk.CreateAsync(Root);
        var watch = new EventRecorder("children");
        await zk.GetChildrenAsync(Root, watch.Watcher);
        await zk.CreateAsync(Root + "/c");
        await watch.WaitForAsync(EventType.NodeChildrenChanged, Root);

        await zk.GetChildrenWithStatAsync(Root, watch.Watcher);
        await zk.DeleteAsync(Root + "/c");
        await watch.WaitForAsync(events => events.Count(e => e.Type == EventType.NodeChildrenChanged) == 2, "a second NodeChildrenChanged");

        await zk.GetChildrenAsync(Root, watch.Watcher);
        await zk.DeleteAsync(Root);
        await watch.WaitForAsync(EventType.NodeDeleted, Root);
    }

    [SkippableFact]
    public async Task A_watch_event_is_delivered_before_the_reply_of_a_read_that_shows_the_change()
    {
        await using var zk = await Server.ConnectAsync();
        await using var other = await Server.ConnectAsync();
        await other.CreateAsync(Root, CreateMode.Persistent, [0]);
        for (var round = 1; round <= 20; round++)
        {
            var watch = new EventRecorder("data");
            await zk.GetDataAsync(Root, watch.Watcher);
            await other.SetDataAsync(Root, [(byte)round]);
            var deadline = DateTime.UtcNow + EventRecorder.DefaultDeadline;
            while ((await zk.GetDataAsync(Root)).Data.Span[0] != round)
            {
                Assert.True(DateTime.UtcNow < deadline, $"round {round}: the change never became visible");
            }

            Assert.True(watch.Count(EventType.NodeDataChanged, Root) == 1, $"round {round}: the read showed the change before its event: {watch}");
        }
    }

    [SkippableFact]
    public async Task Removing_a_watch_notifies_its_watcher_and_a_second_removal_is_NoWatcher()
    {
        await using var zk = await Server.ConnectAsync();
        await zk.CreateAsync(Root);
        var watch = new EventRecorder("data");
        await zk.GetDataAsync(Root, watch.Watcher);
        await zk.RemoveWatchesAsync(Root, watch.Watcher, WatcherType.Data);
        await watch.WaitForAsync(EventType.DataWatchRemoved, Root);
        await ZkTest.ThrowsAsync(ZkErrorCode.NoWatcher, async () => await zk.RemoveWatchesAsync(Root, watch.Watcher, WatcherType.Data));
        await zk.SetDataAsync(Root, [1]);
        await zk.SyncAsync(Root);
        await zk.GetDataAsync(Root);
        Assert.DoesNotContain(watch.Events, e => e.Type == EventType.NodeDataChanged);
    }

    [SkippableFact]
    public async Task A_persistent_recursive_watch_hears_every_change_below_it()
    {
        await using var zk = await Server.ConnectAsync();
        await zk.CreateAsync(Root);
        var watch = new EventRecorder("recursive");
        await zk.AddWatchAsync(Root, watch.Watcher, AddWatchMode.PersistentRecursive);
        await zk.CreateAsync(Root + "/a");
        await zk.SetDataAsync(Root + "/a", [1]);
        await zk.DeleteAsync(Root + "/a");
        await watch.WaitForAsync(EventType.NodeDeleted, Root + "/a");
        Assert.Equal(
            [EventType.NodeCreated, EventType.NodeDataChanged, EventType.NodeDeleted],
            watch.NodeEvents.Select(e => e.Type));
    }

    [SkippableFact]
    public async Task Closing_the_session_tells_the_default_watcher_Closed()
    {
        var session = new EventRecorder("default");
        var zk = await Server.ConnectAsync(session.Watcher);
        await zk.CloseAsync();
        await session.WaitForStateAsync(KeeperState.Closed);
    }
}

public sealed class InProcessWatchContractTests(InProcessServer server) : WatchContract(server), IClassFixture<InProcessServer>;

public sealed class PeerWireWatchContractTests(PeerWireServer server) : WatchContract(server), IClassFixture<PeerWireServer>;

[Collection(ApacheCollection.Name)]
public sealed class ApacheWatchContractTests(ApacheZooKeeperServer server) : WatchContract(server);
