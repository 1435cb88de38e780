using Xunit.Abstractions;
using Zk.Embedded.Transport;
using Zk.Transport.NetMQ;
using static Zk.Embedded.Tests.Transport.NetMq.NetMqTestSupport;

namespace Zk.Embedded.Tests.Transport.NetMq;

/// <summary>
/// Links that come and go as fast as a flapping network makes them: peers restarted, connections frozen until
/// heartbeats give up on them, sends all the while. NetMQ runs its timers on its own I/O thread, where an exception
/// ends the process (zeromq/netmq #1010: an unhandled NullReferenceException in PollerBase.ExecuteTimers while
/// sockets with timers were created and disposed often); this churn is what used to reach it. The test passes when
/// the process survives it and the three peers still talk afterwards. ZK_NETMQ_CHURN_SECONDS runs it longer.
/// </summary>
public sealed class NetMqChurnTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Peers_restarted_and_links_frozen_over_and_over_leave_the_process_running_and_the_peers_talking()
    {
        var seed = Environment.GetEnvironmentVariable("ZK_SEED") is { } s ? int.Parse(s) : Random.Shared.Next();
        var seconds = Environment.GetEnvironmentVariable("ZK_NETMQ_CHURN_SECONDS") is { } t ? int.Parse(t) : 20;
        output.WriteLine($"seed={seed} (set ZK_SEED to replay), {seconds} s of churn");
        var random = new Random(seed);

        // Peer 1 reaches peer 3 through a relay that freezes now and then (a connection that goes silent without a FIN).
        await using var relay = new FreezingRelay(NetMqCluster.FreePort());
        var cluster = new NetMqCluster(new TransportLimits(), members: 3, customize: o => o with
        {
            Members = o.LocalId == 1 ? new Dictionary<int, string>(o.Members) { [3] = $"127.0.0.1:{relay.Port}" } : o.Members,
            HeartbeatInterval = TimeSpan.FromMilliseconds(20),
            HeartbeatTimeout = TimeSpan.FromMilliseconds(80),
            HandshakeTimeout = TimeSpan.FromMilliseconds(200),
            ReconnectInterval = TimeSpan.FromMilliseconds(5),
            ReconnectIntervalMax = TimeSpan.FromMilliseconds(40),
        });
        await using var _ = cluster;
        relay.Target = cluster.Port(3);
        var peers = new IPeerTransport?[4];
        for (var id = 1; id <= 3; id++)
            peers[id] = await cluster.StartAsync(id);

        var stop = DateTime.UtcNow.AddSeconds(seconds);
        var rounds = 0;
        while (DateTime.UtcNow < stop)
        {
            rounds++;
            switch (random.Next(4))
            {
                case 0 or 1:   // restart peer 2 or 3 (peer 1 keeps the relay's side)
                    var id = 2 + random.Next(2);
                    if (peers[id] is { } running)
                        await running.DisposeAsync();
                    peers[id] = random.Next(3) == 0 ? null : await cluster.StartAsync(id);   // sometimes it stays down a round
                    break;
                case 2:
                    relay.Frozen = !relay.Frozen;
                    break;
            }
            for (var id = 2; id <= 3; id++)
                peers[id] ??= random.Next(2) == 0 ? await cluster.StartAsync(id) : null;
            for (var i = 0; i < 20; i++)
            {
                foreach (var p in peers)
                {
                    var to = 1 + random.Next(3);
                    p?.Send(to == p.LocalId ? 1 + to % 3 : to, [(byte)i]);
                }
                Drain(peers);
                await Task.Delay(random.Next(3));
            }
        }

        output.WriteLine($"{rounds} rounds of churn survived");
        relay.Frozen = false;
        for (var id = 2; id <= 3; id++)
            peers[id] ??= await cluster.StartAsync(id);
        Drain(peers);
        await EveryPairTalksAsync(peers);
    }

    private static void Drain(IPeerTransport?[] peers)
    {
        foreach (var p in peers)
        {
            while (p is not null && p.Events.TryRead(out var e))
                e.Dispose();
        }
    }

    /// <summary>Each peer gets a message from each other one (resent until it arrives: links may still be reconnecting).</summary>
    private static async Task EveryPairTalksAsync(IPeerTransport?[] peers)
    {
        for (var from = 1; from <= 3; from++)
        {
            for (var to = 1; to <= 3; to++)
            {
                if (from == to)
                    continue;
                var (sender, receiver) = (peers[from]!, peers[to]!);
                var got = false;
                await UntilAsync(() =>
                {
                    sender.Send(receiver.LocalId, [42, (byte)from]);
                    while (receiver.Events.TryRead(out var e))
                    {
                        using (e)
                            got |= e.Kind == TransportEventKind.Message && e.Peer == sender.LocalId && e.Payload.Span.SequenceEqual(new byte[] { 42, (byte)sender.LocalId });
                    }
                    return got;
                }, $"peer {from}'s message to reach peer {to} after the churn");
            }
        }
    }
}
