using Zk.Embedded.Api;
using Zk.Embedded.Recipes;
using Zk.Embedded.Tests.Wire.Client;
using Zk.Embedded.Wire.Client;

namespace Zk.Embedded.Tests.Recipes;

/// <summary>The lock held through the wire client while its connection is cut: suspended, then held again or lost.</summary>
public sealed class LockOverWireTests : IAsyncLifetime
{
    private ZkPeer _peer = null!;

    public async Task InitializeAsync() => _peer = await ZkPeer.StartAsync(new ZkPeerOptions { ClientPort = 0, TickTime = TimeSpan.FromMilliseconds(500) });

    public async Task DisposeAsync() => await _peer.DisposeAsync();

    [Fact]
    public async Task A_cut_connection_suspends_the_lease_and_the_reconnect_makes_it_held_again()
    {
        await using var proxy = new TcpProxy(_peer.ClientEndPoint!);
        await using var zk = await ZkClient.ConnectAsync($"127.0.0.1:{proxy.Port}", new ZkClientOptions { SessionTimeout = TimeSpan.FromSeconds(10) });
        await using var lease = await zk.AcquireLockAsync("/lock");
        var states = Record(lease);

        proxy.Cut();

        await states.WaitForAsync(seen => seen.SequenceEqual([HoldState.Suspended, HoldState.Held]), "Suspended then Held");
        Assert.False(lease.Lost.IsCancellationRequested, "a lease whose session survived a cut connection is not lost");
        Assert.Equal(lease.FencingToken, (await zk.ExistsAsync(lease.NodePath))!.Value.Czxid);
    }

    [Fact]
    public async Task A_holder_cut_off_for_its_session_timeout_knows_it_lost_the_lock_and_a_waiter_takes_over()
    {
        await using var proxy = new TcpProxy(_peer.ClientEndPoint!);
        await using var zk = await ZkClient.ConnectAsync($"127.0.0.1:{proxy.Port}", new ZkClientOptions { SessionTimeout = TimeSpan.FromSeconds(2) });
        await using var other = await _peer.ConnectAsync();
        var lease = await zk.AcquireLockAsync("/lock");
        var states = Record(lease);
        var next = other.AcquireLockAsync("/lock").AsTask();

        proxy.Refusing = true;
        proxy.Cut();

        // Lost on the client's clock, whether or not the peer has expired the session yet.
        await states.WaitForAsync(seen => seen.SequenceEqual([HoldState.Suspended, HoldState.Lost]), "Suspended then Lost", TimeSpan.FromSeconds(30));
        Assert.True(lease.Lost.IsCancellationRequested);
        Assert.Contains("no contact", lease.LossReason, StringComparison.Ordinal);
        await using var taken = await next.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(taken.FencingToken > lease.FencingToken, $"expected the new holder's token 0x{taken.FencingToken:x} > 0x{lease.FencingToken:x}");
        await lease.ReleaseAsync(); // The session is gone with the node; release must still return.
    }

    private static ValueRecorder<HoldState> Record(LockLease lease)
    {
        var recorder = new ValueRecorder<HoldState>("lease states");
        lease.StateChanged += recorder.Add;
        return recorder;
    }
}
