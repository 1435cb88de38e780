using Xunit.Abstractions;
using Zk.Embedded.Consensus;
using Zk.Embedded.Tests.Consensus;
using Zk.Embedded.Tests.Consensus.Harness;
using Zk.Embedded.Transport;
using static Zk.Embedded.Tests.Transport.NetMq.NetMqTestSupport;

namespace Zk.Embedded.Tests.Transport.NetMq;

/// <summary>
/// Consensus messages between separate transports over real sockets: each encoded by <see cref="MessageCodec"/> at the
/// sender and decoded at the receiver, as two processes would.
/// </summary>
public sealed class ConsensusOverNetMqTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Every_kind_of_consensus_message_arrives_decoded_as_sent()
    {
        await using var cluster = new NetMqCluster(new TransportLimits(), members: 2);
        var (a, b) = (await cluster.StartAsync(1), await cluster.StartAsync(2));
        (await NoticeAsync(a, TransportEventKind.Connected, 2)).Dispose();

        foreach (var message in MessageCodecTests.Samples)
            Assert.True(a.Send(2, MessageCodec.Encode(message)), $"expected {message} to be queued");
        foreach (var expected in MessageCodecTests.Samples)
        {
            using var e = await NextAsync(b, e => e.Kind == TransportEventKind.Message, $"{expected.GetType().Name} from peer 1");
            Assert.Equal(1, e.Peer);
            MessageCodecTests.AssertSame(expected, MessageCodec.Decode(e.Payload, b.Limits.MaxMessageBytes));
        }
    }

    /// <summary>
    /// Three real <see cref="ZabPeer"/> cores, each on its own NetMQ transport, in real time (a tick every 50 ms), with
    /// the harness standing in for the driver as in <see cref="ZabOverTransportTests"/>. Sends before a peer is
    /// connected are dropped, as the contract says; the cores' resends cover them. Not replayable: the network is real.
    /// </summary>
    [Fact]
    public async Task Three_cores_over_NetMQ_elect_a_leader_and_commit_proposals_on_every_peer()
    {
        const int proposals = 20;
        var seed = Random.Shared.Next();
        output.WriteLine($"seed={seed} (election randomness only: the network's timing is real)");
        await using var cluster = new NetMqCluster(new TransportLimits());
        var random = new SeededRandom(new Random(seed));
        var checker = new ConsensusChecker();
        var voters = new[] { 1, 2, 3 };
        var peers = new List<(SimPeer Peer, IPeerTransport Transport)>();
        foreach (var id in voters)
            peers.Add((new SimPeer(new ConsensusConfig { MyId = id, Voters = voters }, random), await cluster.StartAsync(id)));
        foreach (var (peer, transport) in peers)
        {
            peer.Start();
            ZabOverTransportTests.Drain(peer, transport, checker);
        }

        var proposed = 0;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        var nextTick = DateTime.UtcNow;
        using var pace = new PeriodicTimer(TimeSpan.FromMilliseconds(5));
        while (!Done(peers, checker, proposals) && DateTime.UtcNow < deadline && await pace.WaitForNextTickAsync())
        {
            var tick = DateTime.UtcNow >= nextTick;
            if (tick)
                nextTick = DateTime.UtcNow + TimeSpan.FromMilliseconds(50);
            foreach (var (peer, transport) in peers)
                proposed = ZabOverTransportTests.Turn(peer, transport, checker, tick, proposed, proposals);
        }

        Assert.True(Done(peers, checker, proposals), $"expected all 3 peers to apply {proposals} txns within 60 s; history {checker.History.Count}, " +
            string.Join(", ", peers.Select(p => $"peer {p.Peer.Id}: {p.Peer.Core!.State} applied {p.Peer.Applied.Count}")));
    }

    private static bool Done(List<(SimPeer Peer, IPeerTransport Transport)> peers, ConsensusChecker checker, int proposals) =>
        checker.History.Count == proposals && peers.All(p => p.Peer.Core!.IsServing && p.Peer.Applied.Count == proposals);
}
