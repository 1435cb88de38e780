using Zk.Embedded.Api;
using Zk.Embedded.Tests.Support;
using Zk.Embedded.Wire.Client;

namespace Zk.Embedded.Tests.Wire.Client;

/// <summary>What only the wire client has: connection loss and reconnect, chroot, refused sessions.</summary>
public sealed class ZkClientTests : IAsyncLifetime
{
    private ZkPeer _peer = null!;

    private string ConnectString => $"127.0.0.1:{_peer.ClientEndPoint!.Port}";

    public async Task InitializeAsync() => _peer = await ZkPeer.StartAsync(new ZkPeerOptions { ClientPort = 0, TickTime = TimeSpan.FromMilliseconds(500) });

    public async Task DisposeAsync() => await _peer.DisposeAsync();

    [Fact]
    public async Task After_the_connection_is_cut_the_client_reconnects_with_the_same_session_and_its_watches()
    {
        await using var proxy = new TcpProxy(_peer.ClientEndPoint!);
        var session = new EventRecorder("default");
        await using var zk = await ZkClient.ConnectAsync($"127.0.0.1:{proxy.Port}", new ZkClientOptions { DefaultWatcher = session.Watcher, SessionTimeout = TimeSpan.FromSeconds(10) });
        await using var other = await _peer.ConnectAsync();
        await zk.CreateAsync("/eph", CreateMode.Ephemeral);
        await other.CreateAsync("/w");
        var data = new EventRecorder("data");
        var children = new EventRecorder("children");
        var recursive = new EventRecorder("recursive");
        await zk.GetDataAsync("/w", data.Watcher);
        await zk.GetChildrenAsync("/w", children.Watcher);
        await zk.AddWatchAsync("/w", recursive.Watcher, AddWatchMode.PersistentRecursive);
        var sessionId = zk.SessionId;

        proxy.Cut();
        await session.WaitForStateAsync(KeeperState.Disconnected);
        await session.WaitForAsync(events => events.Count(e => e.State == KeeperState.SyncConnected) == 2, "a second SyncConnected");
        Assert.Equal(sessionId, zk.SessionId);
        Assert.Equal(SessionState.Connected, zk.State);
        Assert.NotNull(await other.ExistsAsync("/eph"));

        await other.SetDataAsync("/w", [1]);
        await other.CreateAsync("/w/c");
        await data.WaitForAsync(EventType.NodeDataChanged, "/w");
        await children.WaitForAsync(EventType.NodeChildrenChanged, "/w");
        await recursive.WaitForAsync(EventType.NodeCreated, "/w/c");
    }

    [Fact]
    public async Task StateChanged_tells_code_that_subscribed_after_connect_of_a_disconnect_the_reconnect_and_the_close()
    {
        await using var proxy = new TcpProxy(_peer.ClientEndPoint!);
        var zk = await ZkClient.ConnectAsync($"127.0.0.1:{proxy.Port}", new ZkClientOptions { SessionTimeout = TimeSpan.FromSeconds(10) });
        var states = new EventRecorder("StateChanged");
        zk.StateChanged += state => states.Watcher(new WatchedEvent(EventType.None, state, null));

        proxy.Cut();
        await states.WaitForAsync(events => AfterDisconnect(events).Contains(KeeperState.SyncConnected), "a SyncConnected after the Disconnected");
        await zk.CloseAsync();
        await states.WaitForStateAsync(KeeperState.Closed);
        // The connect's own SyncConnected may come first or not (it may have been delivered before the subscription).
        Assert.True(
            AfterDisconnect(states.Events).SequenceEqual([KeeperState.Disconnected, KeeperState.SyncConnected, KeeperState.Closed]),
            $"expected Disconnected, SyncConnected, Closed in that order, heard {EventRecorder.Describe(states.Events)}");

        static KeeperState[] AfterDisconnect(IReadOnlyList<WatchedEvent> events) =>
            events.Select(e => e.State).SkipWhile(state => state != KeeperState.Disconnected).ToArray();
    }

    [Fact]
    public async Task Watches_beyond_one_frame_of_jute_maxbuffer_are_re_registered_in_batches()
    {
        await using var proxy = new TcpProxy(_peer.ClientEndPoint!);
        var session = new EventRecorder("default");
        await using var zk = await ZkClient.ConnectAsync($"127.0.0.1:{proxy.Port}", new ZkClientOptions { DefaultWatcher = session.Watcher, SessionTimeout = TimeSpan.FromSeconds(10) });
        await using var other = await _peer.ConnectAsync();

        // 6,000 exist watches on 200-character paths: 1.2 MB of paths, more than the peer's 1 MB jute.maxbuffer.
        var paths = Enumerable.Range(0, 6000).Select(i => $"/absent-{i:D5}-".PadRight(200, 'x')).ToArray();
        var created = new EventRecorder("created");
        for (var from = 0; from < paths.Length; from += 500)
        {
            await Task.WhenAll(paths[from..(from + 500)].Select(async p => await zk.ExistsAsync(p, created.Watcher)));
        }

        proxy.Cut();
        await session.WaitForStateAsync(KeeperState.Disconnected);
        await session.WaitForAsync(events => events.Count(e => e.State == KeeperState.SyncConnected) == 2, "a second SyncConnected");
        Assert.Equal(SessionState.Connected, zk.State);

        await other.CreateAsync(paths[^1]);
        await created.WaitForAsync(EventType.NodeCreated, paths[^1]);
        Assert.NotNull(await zk.ExistsAsync(paths[^1]));
        Assert.Equal(2, session.Events.Count(e => e.State == KeeperState.SyncConnected));
    }

    [Fact]
    public async Task A_watched_node_changed_while_disconnected_fires_on_reconnect()
    {
        await using var proxy = new TcpProxy(_peer.ClientEndPoint!);
        var session = new EventRecorder("default");
        await using var zk = await ZkClient.ConnectAsync($"127.0.0.1:{proxy.Port}", new ZkClientOptions { DefaultWatcher = session.Watcher, SessionTimeout = TimeSpan.FromSeconds(10) });
        await using var other = await _peer.ConnectAsync();
        await other.CreateAsync("/w");
        var data = new EventRecorder("data");
        await zk.GetDataAsync("/w", data.Watcher);

        proxy.Refusing = true;
        proxy.Cut();
        await session.WaitForStateAsync(KeeperState.Disconnected);
        await ZkTest.ThrowsAsync(ZkErrorCode.ConnectionLoss, async () => await zk.ExistsAsync("/w"));
        await other.SetDataAsync("/w", [1]);
        Assert.DoesNotContain(data.Events, e => e.Type == EventType.NodeDataChanged);

        proxy.Refusing = false;
        await data.WaitForAsync(EventType.NodeDataChanged, "/w");
        Assert.Equal([1], (await zk.GetDataAsync("/w")).Data.ToArray());
    }

    [Fact]
    public async Task Calls_in_flight_when_the_connection_drops_fail_with_ConnectionLoss_and_later_calls_succeed()
    {
        await using var proxy = new TcpProxy(_peer.ClientEndPoint!);
        var session = new EventRecorder("default");
        await using var zk = await ZkClient.ConnectAsync($"127.0.0.1:{proxy.Port}", new ZkClientOptions { DefaultWatcher = session.Watcher, SessionTimeout = TimeSpan.FromSeconds(10) });
        await zk.CreateAsync("/n");
        var inFlight = new List<Task>();
        for (var i = 0; i < 200; i++)
        {
            inFlight.Add(zk.GetDataAsync("/n").AsTask());
        }

        proxy.Cut();
        foreach (var call in inFlight)
        {
            try
            {
                await call;
            }
            catch (ZkException e)
            {
                Assert.Equal(ZkErrorCode.ConnectionLoss, e.Code);
            }
        }

        await session.WaitForAsync(events => events.Count(e => e.State == KeeperState.SyncConnected) == 2, "a reconnect");
        await ZkTest.AssertServesAsync(zk);
    }

    [Fact]
    public async Task Under_a_chroot_paths_go_out_prefixed_and_come_back_stripped()
    {
        await using var admin = await _peer.ConnectAsync();
        await admin.CreateAsync("/app");
        await using var zk = await ZkClient.ConnectAsync(ConnectString + "/app");
        Assert.Equal("/a", await zk.CreateAsync("/a"));
        Assert.Equal("/s-0000000001", await zk.CreateAsync("/s-", CreateMode.PersistentSequential));
        Assert.NotNull(await admin.ExistsAsync("/app/a"));
        Assert.Equal(["a", "s-0000000001"], (await zk.GetChildrenAsync("/")).Order(StringComparer.Ordinal));

        var watch = new EventRecorder("data");
        await zk.GetDataAsync("/a", watch.Watcher);
        await admin.SetDataAsync("/app/a", [1]);
        await watch.WaitForAsync(EventType.NodeDataChanged, "/a");

        var results = await zk.MultiAsync([Op.Create("/m", null, Acl.OpenUnsafe, CreateMode.Persistent)]);
        Assert.Equal("/m", Assert.IsType<CreateResult>(results[0]).Path);
        await zk.CreateAsync("/e", CreateMode.Ephemeral);
        Assert.Equal(["/e"], await zk.GetEphemeralsAsync("/"));
        var e = await ZkTest.ThrowsAsync(ZkErrorCode.NoNode, async () => await zk.GetDataAsync("/missing"));
        Assert.Equal("/missing", e.Path);
    }

    [Fact]
    public async Task Re_attaching_an_unknown_session_fails_with_SessionExpired()
    {
        var options = new ZkClientOptions { SessionId = 0x1234_5678, SessionPassword = new byte[16] };
        var e = await ZkTest.ThrowsAsync(ZkErrorCode.SessionExpired, async () => await ZkClient.ConnectAsync(ConnectString, options));
        Assert.Null(e.Path);
    }

    [Fact]
    public async Task A_second_client_can_re_attach_a_session_with_its_id_and_password()
    {
        // The first client loses its connection for good (a crashed process, as far as the server can tell): were it
        // able to reconnect, it would take the session back, as ZooKeeper's client would, and the two would take turns.
        await using var proxy = new TcpProxy(_peer.ClientEndPoint!);
        var firstEvents = new EventRecorder("first");
        await using var first = await ZkClient.ConnectAsync($"127.0.0.1:{proxy.Port}", new ZkClientOptions { DefaultWatcher = firstEvents.Watcher });
        await first.CreateAsync("/mine", CreateMode.Ephemeral);
        proxy.Refusing = true;
        proxy.Cut();
        await firstEvents.WaitForStateAsync(KeeperState.Disconnected);

        await using var second = await ZkClient.ConnectAsync(ConnectString, new ZkClientOptions { SessionId = first.SessionId, SessionPassword = first.SessionPassword });
        Assert.Equal(first.SessionId, second.SessionId);
        Assert.Equal(["/mine"], await second.GetEphemeralsAsync());
    }

    [Fact]
    public async Task Nobody_listening_fails_the_connect_with_ConnectionLoss_after_the_connect_timeout()
    {
        await using var proxy = new TcpProxy(_peer.ClientEndPoint!) { Refusing = true };
        var options = new ZkClientOptions { ConnectTimeout = TimeSpan.FromMilliseconds(500) };
        await ZkTest.ThrowsAsync(ZkErrorCode.ConnectionLoss, async () => await ZkClient.ConnectAsync($"127.0.0.1:{proxy.Port}", options));
    }

    [Fact]
    public async Task An_unknown_auth_scheme_makes_the_session_AuthFailed()
    {
        var session = new EventRecorder("default");
        await using var zk = await ZkClient.ConnectAsync(ConnectString, new ZkClientOptions { DefaultWatcher = session.Watcher });
        await ZkTest.ThrowsAsync(ZkErrorCode.AuthFailed, async () => await zk.AddAuthInfoAsync("nosuch", [1]));
        await session.WaitForStateAsync(KeeperState.AuthFailed);
        Assert.Equal(SessionState.AuthFailed, zk.State);
        await ZkTest.ThrowsAsync(ZkErrorCode.AuthFailed, async () => await zk.ExistsAsync("/"));
    }

    [Fact]
    public void Connect_strings_parse_hosts_ports_and_the_chroot()
    {
        var parsed = Zk.Embedded.Wire.Client.ConnectString.Parse("a:1,b,[::1]:3/x/y", new Random(1));
        Assert.Equal(["::1:3", "a:1", "b:2181"], parsed.Hosts.Select(h => $"{h.Host}:{h.Port}").Order(StringComparer.Ordinal));
        Assert.Equal("/x/y", parsed.Chroot.Prefix);
        Assert.Equal("/x/y", parsed.Chroot.ToServer("/"));
        Assert.Equal("/", parsed.Chroot.ToClient("/x/y"));
        Assert.Equal("/z", parsed.Chroot.ToClient("/x/y/z"));
        Assert.Equal("/x/yz", parsed.Chroot.ToClient("/x/yz"));
        Assert.Null(Zk.Embedded.Wire.Client.ConnectString.Parse("h:1/", new Random(1)).Chroot.Prefix);
        Assert.Throws<ArgumentException>(() => Zk.Embedded.Wire.Client.ConnectString.Parse("h:1/bad/", new Random(1)));
    }
}
