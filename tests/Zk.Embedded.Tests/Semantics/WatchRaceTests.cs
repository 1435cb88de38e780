using Zk.Embedded.Api;
using Zk.Embedded.Tests.Support;
using Zk.Embedded.Tests.Wire;
using Zk.Embedded.Wire.Jute;

namespace Zk.Embedded.Tests.Semantics;

/// <summary>
/// A one-shot watch whose registration races a change by another session (issue 11: a lock waiter whose predecessor
/// is deleted in that window waited forever). A seam on the WatchManager runs the change at the exact point where the
/// race would put it, so each test forces the interleaving instead of hoping for it. The seam holds a server thread
/// while the racing write goes through the pipeline on others: it runs alone, because under the parallel tests' load
/// that write once took over its 10 s deadline.
/// </summary>
[Collection(RunsAlone.Name)]
public sealed class WatchRaceTests
{
    public static readonly TheoryData<string> InProcessCases =
    [
        "exists on a node, then it is deleted",
        "exists on a missing node, then it is created",
        "getData, then the data changes",
        "getChildren, then a child is created",
    ];

    [Theory]
    [MemberData(nameof(InProcessCases))]
    public async Task A_change_published_between_a_read_and_its_watch_registration_fires_the_watch_once(string name)
    {
        var (setup, read, change, expected) = Case(name);
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await using var other = await peer.ConnectAsync();
        await setup(other);
        var raced = RaceAt(hook => peer.Peer.Core.Watches.BeforeOneShotAdd = hook, other, change);

        // The seam blocks the reading thread until the change is acknowledged: keep that off xunit's own test threads.
        var watch = new EventRecorder();
        await Task.Run(() => read(zk, watch.Watcher));

        Assert.True(raced.Ran, "the seam must have run the change before the watch was added");
        await watch.WaitForAsync(expected, "/n");
        await zk.ExistsAsync("/n");
        Assert.True(watch.Count(expected, "/n") == 1, $"expected one {expected} on /n, saw {EventRecorder.Describe(watch.Events)}");
    }

    [Theory]
    [InlineData("getData")]
    [InlineData("setWatches")]
    public async Task A_change_both_the_trigger_and_the_registering_read_see_sends_one_notification(string request)
    {
        await using var peer = await ZkPeer.StartAsync(new ZkPeerOptions { ClientPort = 0 });
        await using var other = await peer.ConnectAsync();
        await other.CreateAsync("/n");
        var (client, _) = await RawWireClient.ConnectAsync(peer.ClientEndPoint!);
        using var __ = client;
        var watches = peer.Core.Watches;
        Task? change = null;
        // Between the registration and the check for missed changes, the change's triggers find the watch and take it.
        // The wire read holds its outbox's lock here, so the trigger's notification waits for it: wait only until
        // the trigger has removed the watch, then let the read compare, and see the same change.
        watches.AfterOneShotAdd = path =>
        {
            if (path == "/n" && change is null)
            {
                change = Task.Run(() => other.SetDataAsync("/n", [1]).AsTask());
                var deadline = DateTime.UtcNow.AddSeconds(10);
                while (watches.Count > 0)
                {
                    Assert.True(DateTime.UtcNow < deadline, "expected the change's trigger to take the watch");
                    Thread.Yield();
                }
            }
        };

        if (request == "getData")
        {
            client.SendRequest(1, OpCode.GetData, new GetDataRequest("/n", true));
        }
        else
        {
            client.SendRequest(Xids.SetWatches, OpCode.SetWatches, new SetWatches(peer.LastZxid, ["/n"], [], []));
        }

        await Eventually.TrueAsync(() => change is not null, "the seam to start the change");
        await change!.WaitAsync(TimeSpan.FromSeconds(10));
        var notifications = ReceiveUntilPing(client);
        Assert.Equal([new WatcherEvent(EventType.NodeDataChanged, KeeperState.SyncConnected, "/n")], notifications);
    }

    [Theory]
    [InlineData("data", EventType.NodeDeleted)]
    [InlineData("exist", EventType.NodeCreated)]
    [InlineData("child", EventType.NodeChildrenChanged)]
    public async Task A_change_published_while_setWatches_registers_a_watch_fires_it_once(string list, EventType expected)
    {
        await using var peer = await ZkPeer.StartAsync(new ZkPeerOptions { ClientPort = 0 });
        await using var other = await peer.ConnectAsync();
        if (list != "exist")
        {
            await other.CreateAsync("/n");
        }

        Func<IZooKeeper, Task> change = expected switch
        {
            EventType.NodeDeleted => zk => zk.DeleteAsync("/n").AsTask(),
            EventType.NodeCreated => zk => zk.CreateAsync("/n").AsTask(),
            _ => zk => zk.CreateAsync("/n/c").AsTask(),
        };
        var (client, _) = await RawWireClient.ConnectAsync(peer.ClientEndPoint!);
        using var __ = client;
        var raced = RaceAt(hook => peer.Core.Watches.BeforeOneShotAdd = hook, other, change);

        // A client reconnecting after it saw everything up to now: nothing changed since, so the watch is registered again.
        string[] paths = ["/n"];
        client.SendRequest(Xids.SetWatches, OpCode.SetWatches, new SetWatches(
            peer.LastZxid, list == "data" ? paths : [], list == "exist" ? paths : [], list == "child" ? paths : []));
        var notifications = ReceiveUntilPing(client);
        Assert.True(raced.Ran, "the seam must have run the change before the watch was added");
        Assert.Equal([new WatcherEvent(expected, KeeperState.SyncConnected, "/n")], notifications);
    }

    /// <summary>
    /// Sends a ping and reads up to its reply: what the session was sent before it, in order. Returns the
    /// notifications; every other reply must be a success.
    /// </summary>
    private static List<WatcherEvent> ReceiveUntilPing(RawWireClient client)
    {
        client.SendHeaderOnly(Xids.Ping, OpCode.Ping);
        var notifications = new List<WatcherEvent>();
        while (true)
        {
            var (header, body) = client.ReceiveReply();
            if (header.Xid == Xids.Ping)
            {
                return notifications;
            }

            if (header.Xid == Xids.Notification)
            {
                notifications.Add(Jute.Decode<WatcherEvent>(body));
            }
            else
            {
                Assert.True(header.Err == ZkErrorCode.Ok, $"expected xid {header.Xid} to succeed, got {header.Err}");
            }
        }
    }

    private static (Func<IZooKeeper, Task> Setup, Func<IZooKeeper, Watcher, Task> Read, Func<IZooKeeper, Task> Change, EventType Expected) Case(string name) => name switch
    {
        "exists on a node, then it is deleted" => (
            zk => zk.CreateAsync("/n").AsTask(),
            async (zk, w) => Assert.NotNull(await zk.ExistsAsync("/n", w)),
            zk => zk.DeleteAsync("/n").AsTask(),
            EventType.NodeDeleted),
        "exists on a missing node, then it is created" => (
            _ => Task.CompletedTask,
            async (zk, w) => Assert.Null(await zk.ExistsAsync("/n", w)),
            zk => zk.CreateAsync("/n").AsTask(),
            EventType.NodeCreated),
        "getData, then the data changes" => (
            zk => zk.CreateAsync("/n").AsTask(),
            async (zk, w) => Assert.Empty((await zk.GetDataAsync("/n", w)).Data.ToArray()),
            zk => zk.SetDataAsync("/n", [1]).AsTask(),
            EventType.NodeDataChanged),
        "getChildren, then a child is created" => (
            zk => zk.CreateAsync("/n").AsTask(),
            async (zk, w) => Assert.Empty(await zk.GetChildrenAsync("/n", w)),
            zk => zk.CreateAsync("/n/c").AsTask(),
            EventType.NodeChildrenChanged),
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, "no such case"),
    };

    /// <summary>
    /// Installs a hook that, the first time it is called for /n, makes <paramref name="other"/> run the change and waits
    /// until the change is published (its reply is back), so its triggers have run by the time the hook returns.
    /// </summary>
    private static Race RaceAt(Action<Action<string>> install, IZooKeeper other, Func<IZooKeeper, Task> change)
    {
        var race = new Race();
        install(path =>
        {
            if (path == "/n" && race.TryStart())
            {
                var changed = Task.Run(() => change(other));
                Assert.True(changed.Wait(TimeSpan.FromSeconds(10)), $"expected the racing change to be acknowledged, it is {changed.Status}");
            }
        });
        return race;
    }

    private sealed class Race
    {
        private int _ran;

        public bool Ran => Volatile.Read(ref _ran) == 1;

        public bool TryStart() => Interlocked.Exchange(ref _ran, 1) == 0;
    }
}
