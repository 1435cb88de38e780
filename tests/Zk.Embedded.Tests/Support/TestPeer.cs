using Microsoft.Extensions.Time.Testing;
using Zk.Embedded.Api;
using Zk.Embedded.InProcess;
using Zk.Embedded.Sessions;

namespace Zk.Embedded.Tests.Support;

/// <summary>A standalone peer on a fake clock, with helpers to open sessions and move time.</summary>
internal sealed class TestPeer : IAsyncDisposable
{
    public static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(100);

    private TestPeer(ZkPeer peer, FakeTimeProvider time)
    {
        Peer = peer;
        Time = time;
    }

    public ZkPeer Peer { get; }

    public FakeTimeProvider Time { get; }

    /// <summary>Starts a peer with a 100 ms tick on a fake clock; <paramref name="configure"/> adjusts the options.</summary>
    public static async Task<TestPeer> StartAsync(Func<ZkPeerOptions, ZkPeerOptions>? configure = null)
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2024, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var options = new ZkPeerOptions { Time = time, TickTime = Tick };
        if (configure is not null)
        {
            options = configure(options);
        }

        var peer = await ZkPeer.StartAsync(options);
        return new TestPeer(peer, time);
    }

    public async Task<IZooKeeper> ConnectAsync(Watcher? defaultWatcher = null, TimeSpan? timeout = null) =>
        await Peer.ConnectAsync(new ZkSessionOptions
        {
            DefaultWatcher = defaultWatcher,
            SessionTimeout = timeout ?? TimeSpan.FromSeconds(1),
        });

    public async Task<IZooKeeper> ConnectAsync(ZkSessionOptions options) => await Peer.ConnectAsync(options);

    /// <summary>Moves the fake clock in steps of one tick, so every periodic timer runs in time order.</summary>
    public void Advance(TimeSpan span)
    {
        for (var left = span; left > TimeSpan.Zero; left -= Tick)
        {
            Time.Advance(left < Tick ? left : Tick);
        }
    }

    /// <summary>Makes a session fall silent and moves time until the peer expires it (its ephemerals are gone).</summary>
    public async Task ExpireAsync(IZooKeeper session)
    {
        ((InProcessSession)session).StopHeartbeats();
        var sessionId = session.SessionId;
        Advance(session.SessionTimeout + Tick * 3);
        await Eventually.TrueAsync(
            () => !Peer.Core.Pipeline.State.Sessions.ContainsKey(new SessionId(sessionId)),
            $"session 0x{sessionId:x} to be closed by the peer after it expired");
    }

    public ValueTask DisposeAsync() => Peer.DisposeAsync();
}
