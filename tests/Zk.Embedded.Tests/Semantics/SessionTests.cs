using Zk.Embedded.Api;
using Zk.Embedded.InProcess;
using Zk.Embedded.Sessions;
using Zk.Embedded.Tests.Support;

namespace Zk.Embedded.Tests.Semantics;

/// <summary>Session lifetime: close, expiry, timeout negotiation, re-attach (SessionTrackerImpl, ZooKeeperServer).</summary>
public sealed class SessionTests
{
    [Fact]
    public async Task The_default_watcher_hears_SyncConnected_on_connect()
    {
        await using var peer = await TestPeer.StartAsync();
        var state = new EventRecorder("default watcher");
        await using var zk = await peer.ConnectAsync(state.Watcher);
        await state.WaitForStateAsync(KeeperState.SyncConnected);
        Assert.Equal(SessionState.Connected, zk.State);
    }

    [Fact]
    public async Task Close_deletes_the_session_ephemerals_at_once()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var observer = await peer.ConnectAsync();
        var watch = new EventRecorder();
        var owner = await peer.ConnectAsync();
        await owner.CreateAsync("/p");
        await owner.CreateAsync("/p/e", CreateMode.Ephemeral);
        await owner.CreateAsync("/p/s-", CreateMode.EphemeralSequential);
        await observer.ExistsAsync("/p/e", watch.Watcher);
        await owner.CloseAsync();
        Assert.Empty(await observer.GetChildrenAsync("/p"));
        Assert.Equal(4, (await observer.StatAsync("/p")).Cversion);
        await watch.WaitForAsync(EventType.NodeDeleted, "/p/e");
        Assert.True(await observer.ExistsAsync("/p") is not null, "persistent nodes stay");
    }

    [Fact]
    public async Task A_closing_session_hears_its_own_ephemerals_go_before_close_returns_then_Closed()
    {
        await using var peer = await TestPeer.StartAsync();
        var state = new EventRecorder("default watcher");
        var owner = await peer.ConnectAsync(state.Watcher);
        await owner.CreateAsync("/own", CreateMode.Ephemeral);
        var watch = new EventRecorder("own watch");
        await owner.ExistsAsync("/own", watch.Watcher);
        await owner.CloseAsync();
        // FinalRequestProcessor sends the notifications of killSession on the connection before the close reply.
        Assert.True(watch.Count(EventType.NodeDeleted, "/own") == 1, $"expected NodeDeleted /own before CloseAsync returned; {watch}");
        await state.WaitForStateAsync(KeeperState.Closed);
    }

    [Fact]
    public async Task Calls_after_close_fail_with_SessionExpired()
    {
        await using var peer = await TestPeer.StartAsync();
        var zk = await peer.ConnectAsync();
        await zk.CloseAsync();
        Assert.Equal(SessionState.Closed, zk.State);
        await ZkTest.ThrowsAsync(ZkErrorCode.SessionExpired, async () => await zk.GetDataAsync("/"));
        await ZkTest.ThrowsAsync(ZkErrorCode.SessionExpired, async () => await zk.CreateAsync("/x"));
        await ZkTest.ThrowsAsync(ZkErrorCode.SessionExpired, async () => await zk.ExistsAsync("/"));
        await zk.CloseAsync();
        await zk.DisposeAsync();
    }

    [Fact]
    public async Task Expiry_deletes_ephemerals_and_tells_the_default_watcher()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var observer = await peer.ConnectAsync();
        var state = new EventRecorder("default watcher");
        var zk = await peer.ConnectAsync(state.Watcher);
        await zk.CreateAsync("/e", CreateMode.Ephemeral);
        var watch = new EventRecorder();
        await observer.ExistsAsync("/e", watch.Watcher);
        await peer.ExpireAsync(zk);
        await watch.WaitForAsync(EventType.NodeDeleted, "/e");
        await state.WaitForStateAsync(KeeperState.Expired);
        Assert.Null(await observer.ExistsAsync("/e"));
        Assert.Equal(SessionState.Expired, zk.State);
        await ZkTest.ThrowsAsync(ZkErrorCode.SessionExpired, async () => await zk.GetDataAsync("/"));
        await ZkTest.ThrowsAsync(ZkErrorCode.SessionExpired, async () => await zk.CreateAsync("/x"));
    }

    [Fact]
    public async Task Code_handed_an_existing_session_hears_its_expiry_or_close_through_StateChanged()
    {
        await using var peer = await TestPeer.StartAsync();
        var expiring = await peer.ConnectAsync();
        var closing = await peer.ConnectAsync();
        var expiringStates = new EventRecorder("expiring session's StateChanged");
        var closingStates = new EventRecorder("closing session's StateChanged");
        expiring.StateChanged += state => expiringStates.Watcher(new WatchedEvent(EventType.None, state, null));
        closing.StateChanged += state => closingStates.Watcher(new WatchedEvent(EventType.None, state, null));
        expiring.StateChanged += _ => throw new InvalidOperationException("a handler that throws is skipped, as a watcher is");

        await peer.ExpireAsync(expiring);
        await closing.CloseAsync();

        await expiringStates.WaitForStateAsync(KeeperState.Expired);
        await closingStates.WaitForStateAsync(KeeperState.Closed);
        Assert.DoesNotContain(closingStates.Events, e => e.State == KeeperState.Expired);
    }

    [Fact]
    public async Task A_session_that_pings_never_expires()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync(timeout: TimeSpan.FromSeconds(1));
        await zk.CreateAsync("/e", CreateMode.Ephemeral);
        peer.Advance(TimeSpan.FromSeconds(30));
        await zk.SyncAsync("/");
        Assert.NotNull(await zk.ExistsAsync("/e"));
        Assert.Equal(SessionState.Connected, zk.State);
    }

    [Fact]
    public async Task A_silent_session_survives_until_its_timeout()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var observer = await peer.ConnectAsync();
        var zk = await peer.ConnectAsync(timeout: TimeSpan.FromSeconds(2));
        await zk.CreateAsync("/e", CreateMode.Ephemeral);
        ((InProcessSession)zk).StopHeartbeats();
        peer.Advance(TimeSpan.FromMilliseconds(1500));
        await observer.SyncAsync("/");
        Assert.NotNull(await observer.ExistsAsync("/e"));
        var watch = new EventRecorder();
        await observer.ExistsAsync("/e", watch.Watcher);
        peer.Advance(TimeSpan.FromSeconds(1));
        await watch.WaitForAsync(EventType.NodeDeleted, "/e");
    }

    [Theory]
    [InlineData(1, 200)]
    [InlineData(199, 200)]
    [InlineData(200, 200)]
    [InlineData(1000, 1000)]
    [InlineData(2000, 2000)]
    [InlineData(2001, 2000)]
    [InlineData(3_600_000, 2000)]
    public async Task The_timeout_is_clamped_to_two_and_twenty_ticks(int requestedMs, int negotiatedMs)
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync(timeout: TimeSpan.FromMilliseconds(requestedMs));
        Assert.Equal(TimeSpan.FromMilliseconds(negotiatedMs), zk.SessionTimeout);
    }

    [Fact]
    public async Task Configured_min_and_max_timeouts_replace_the_tick_bounds()
    {
        await using var peer = await TestPeer.StartAsync(o => o with
        {
            MinSessionTimeout = TimeSpan.FromSeconds(1),
            MaxSessionTimeout = TimeSpan.FromSeconds(5),
        });
        await using var low = await peer.ConnectAsync(timeout: TimeSpan.FromMilliseconds(10));
        await using var high = await peer.ConnectAsync(timeout: TimeSpan.FromMinutes(10));
        Assert.Equal(TimeSpan.FromSeconds(1), low.SessionTimeout);
        Assert.Equal(TimeSpan.FromSeconds(5), high.SessionTimeout);
    }

    [Fact]
    public async Task Reattaching_with_id_and_password_keeps_the_session_and_its_ephemerals()
    {
        await using var peer = await TestPeer.StartAsync();
        var first = await peer.ConnectAsync();
        await first.CreateAsync("/e", CreateMode.Ephemeral);
        await using var second = await peer.ConnectAsync(new ZkSessionOptions { SessionId = first.SessionId, SessionPassword = first.SessionPassword });
        Assert.Equal(first.SessionId, second.SessionId);
        Assert.Equal(["/e"], await second.GetEphemeralsAsync());
        Assert.Equal(first.SessionId, (await second.StatAsync("/e")).EphemeralOwner);
        await second.CreateAsync("/e2", CreateMode.Ephemeral);
        await ZkTest.ThrowsAsync(ZkErrorCode.SessionMoved, async () => await first.GetDataAsync("/e"));
        await ZkTest.ThrowsAsync(ZkErrorCode.SessionMoved, async () => await first.SetDataAsync("/e", [1]));
        await first.DisposeAsync();
        Assert.NotNull(await second.ExistsAsync("/e"));
    }

    [Fact]
    public async Task Reattaching_with_a_wrong_password_fails_with_SessionExpired()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        var wrong = zk.SessionPassword.ToArray();
        wrong[0] ^= 0xFF;
        await ZkTest.ThrowsAsync(ZkErrorCode.SessionExpired, async () => await peer.ConnectAsync(new ZkSessionOptions { SessionId = zk.SessionId, SessionPassword = wrong }));
        await ZkTest.ThrowsAsync(ZkErrorCode.SessionExpired, async () => await peer.ConnectAsync(new ZkSessionOptions { SessionId = zk.SessionId }));
    }

    [Fact]
    public async Task Reattaching_an_unknown_or_closed_session_fails_with_SessionExpired()
    {
        await using var peer = await TestPeer.StartAsync();
        await ZkTest.ThrowsAsync(ZkErrorCode.SessionExpired, async () => await peer.ConnectAsync(new ZkSessionOptions { SessionId = 0x1234, SessionPassword = new byte[16] }));
        var closed = await peer.ConnectAsync();
        await closed.CloseAsync();
        await ZkTest.ThrowsAsync(ZkErrorCode.SessionExpired, async () => await peer.ConnectAsync(new ZkSessionOptions { SessionId = closed.SessionId, SessionPassword = closed.SessionPassword }));
    }

    [Fact]
    public async Task Reattaching_an_expired_session_fails_with_SessionExpired()
    {
        await using var peer = await TestPeer.StartAsync();
        var zk = await peer.ConnectAsync();
        await peer.ExpireAsync(zk);
        await ZkTest.ThrowsAsync(ZkErrorCode.SessionExpired, async () => await peer.ConnectAsync(new ZkSessionOptions { SessionId = zk.SessionId, SessionPassword = zk.SessionPassword }));
    }

    [Fact]
    public async Task Sessions_get_distinct_ids_and_closing_one_leaves_the_others_ephemerals()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var a = await peer.ConnectAsync();
        var b = await peer.ConnectAsync();
        Assert.NotEqual(a.SessionId, b.SessionId);
        await a.CreateAsync("/a", CreateMode.Ephemeral);
        await b.CreateAsync("/b", CreateMode.Ephemeral);
        await b.CloseAsync();
        Assert.NotNull(await a.ExistsAsync("/a"));
        Assert.Null(await a.ExistsAsync("/b"));
        Assert.Equal(1, peer.Peer.SessionCount);
    }

    [Fact]
    public async Task Watches_of_a_closed_session_are_dropped()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var writer = await peer.ConnectAsync();
        await writer.CreateAsync("/n");
        var watch = new EventRecorder();
        var zk = await peer.ConnectAsync(watch.Watcher);
        await zk.GetDataAsync("/n", watch.Watcher);
        await zk.CloseAsync();
        await writer.SetDataAsync("/n", [1]);
        await writer.SyncAsync("/");
        Assert.Empty(watch.NodeEvents);
    }
}
