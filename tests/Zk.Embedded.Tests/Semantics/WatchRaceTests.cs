using Zk.Embedded.Api;
using Zk.Embedded.Tests.Support;
using Zk.Embedded.Tests.Wire;
using Zk.Embedded.Wire.Jute;

namespace Zk.Embedded.Tests.Semantics;

/// <summary>
/// A one-shot watch whose registration races a change by another session (issue 11: a lock waiter whose predecessor
/// is deleted in that window waited forever). A seam on the WatchManager runs the change at the exact point where the
/// race would put it, so each test forces the interleaving instead of hoping for it. The seam takes the rest of the
/// registration over and runs it once the racing write is acknowledged, so no server thread waits for that write.
/// </summary>
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
        var raced = RaceAt(hook => peer.Peer.Core.Watches.DeferOneShotAdd = hook, other, change);

        var watch = new EventRecorder();
        await read(zk, watch.Watcher);

        await raced.WaitRegisteredAsync();
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
        // Between the registration and the check for missed changes, the change's triggers find the watch and take it;
        // once the change is acknowledged, let the read compare, and see the same change.
        watches.DeferOneShotCompare = (path, compare) =>
        {
            if (path != "/n" || change is not null)
            {
                return false;
            }

            change = Task.Run(async () =>
            {
                await other.SetDataAsync("/n", [1]);
                Assert.True(watches.Count == 0, "expected the change's trigger to have taken the watch");
                compare();
            });
            return true;
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
        var raced = RaceAt(hook => peer.Core.Watches.DeferOneShotAdd = hook, other, change);

        // A client reconnecting after it saw everything up to now: nothing changed since, so the watch is registered again.
        string[] paths = ["/n"];
        client.SendRequest(Xids.SetWatches, OpCode.SetWatches, new SetWatches(
            peer.LastZxid, list == "data" ? paths : [], list == "exist" ? paths : [], list == "child" ? paths : []));
        await raced.WaitRegisteredAsync();
        var notifications = ReceiveUntilPing(client);
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
    /// Installs a hook that, the first time it is called for /n, takes the watch's registration over: it makes
    /// <paramref name="other"/> run the change, waits until the change is published (its reply is back, so its
    /// triggers have run), and only then registers the watch.
    /// </summary>
    private static Race RaceAt(Action<Func<string, Action, bool>> install, IZooKeeper other, Func<IZooKeeper, Task> change)
    {
        var race = new Race();
        install((path, register) =>
        {
            if (path != "/n" || !race.TryStart())
            {
                return false;
            }

            race.RegisterAfter(Task.Run(() => change(other)), register);
            return true;
        });
        return race;
    }

    private sealed class Race
    {
        private readonly TaskCompletionSource _registered = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _ran;

        public bool TryStart() => Interlocked.Exchange(ref _ran, 1) == 0;

        public void RegisterAfter(Task change, Action register) => _ = RunAsync(change, register);

        /// <summary>Waits until the seam ran the change and then the registration.</summary>
        public async Task WaitRegisteredAsync()
        {
            var limit = TimeSpan.FromSeconds(10);
            await Eventually.TrueAsync(() => Volatile.Read(ref _ran) == 1, "the seam to run the change before the watch was added");
            Assert.True(await Task.WhenAny(_registered.Task, Task.Delay(limit)) == _registered.Task, $"expected the racing change to be acknowledged and the watch registered within {limit}");
            await _registered.Task;
        }

        private async Task RunAsync(Task change, Action register)
        {
            try
            {
                await change;
                register();
                _registered.SetResult();
            }
            catch (Exception e)
            {
                _registered.SetException(e);
            }
        }
    }
}
