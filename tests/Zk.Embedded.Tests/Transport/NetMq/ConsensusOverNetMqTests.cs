using Xunit.Abstractions;
using Zk.Embedded.Consensus;
using Zk.Embedded.Tests.Consensus;
using Zk.Testing.Simulation;
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
    /// The checker holds every peer's applied history to one prefix throughout.
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
            peers.Add((new SimPeer(new ConsensusConfig { MyId = id, Voters = voters }, random, trees: false), await cluster.StartAsync(id)));
        foreach (var (peer, transport) in peers)
        {
            peer.Start();
            ZabOverTransportTests.Drain(peer, transport, checker);
        }

        // One proposal in flight at a time, the next once the last committed; one lost to a leader change (real time
        // on a shared machine can cost a leader its quorum) is made again after a second, so the history may pass
        // the target by a few, never fall short of it.
        var (committedAtProposal, proposedAt) = (-1, DateTime.MinValue);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        var nextTick = DateTime.UtcNow;
        using var pace = new PeriodicTimer(TimeSpan.FromMilliseconds(5));
        while (!Done(peers, checker, proposals) && DateTime.UtcNow < deadline && await pace.WaitForNextTickAsync())
        {
            var now = DateTime.UtcNow;
            var tick = now >= nextTick;
            if (tick)
                nextTick = now + TimeSpan.FromMilliseconds(50);
            foreach (var (peer, transport) in peers)
            {
                var mayPropose = checker.History.Count < proposals && (checker.History.Count > committedAtProposal || now - proposedAt > TimeSpan.FromSeconds(1));
                if (ZabOverTransportTests.Turn(peer, transport, checker, tick, proposed: 0, proposals: mayPropose ? 1 : 0) == 1)
                    (committedAtProposal, proposedAt) = (checker.History.Count, now);
            }
        }

        Assert.True(Done(peers, checker, proposals), $"expected all 3 peers to apply at least {proposals} txns within 60 s; history {checker.History.Count}, " +
            string.Join(", ", peers.Select(p => $"peer {p.Peer.Id}: {p.Peer.Core!.State} applied {p.Peer.Applied.Count}")));
    }

    private static bool Done(List<(SimPeer Peer, IPeerTransport Transport)> peers, ConsensusChecker checker, int proposals) =>
        checker.History.Count >= proposals && peers.All(p => p.Peer.Core!.IsServing && p.Peer.Applied.Count == checker.History.Count);
}
