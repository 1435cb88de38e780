using System.Text;
using Microsoft.Extensions.Time.Testing;
using Xunit.Abstractions;
using Zk.Embedded.Consensus;
using Zk.Embedded.Ensemble;
using Zk.Testing.Simulation;
using Zk.Embedded.Transport;
using Zk.Transport.InMemory;

namespace Zk.Embedded.Tests.Consensus;

/// <summary>
/// Three real <see cref="ZabPeer"/> cores talk through <see cref="InMemoryNetwork"/> endpoints, every message
/// encoded by <see cref="MessageCodec"/> into bytes and decoded on arrival, on one thread, on a fake clock and a
/// seed (links delay and lose messages): the encoded path works end to end, and deterministically. No driver, no
/// pipeline: the harness's <see cref="SimPeer"/> and its instant <see cref="SimDisk"/> stand in.
/// </summary>
public sealed class ZabOverTransportTests(ITestOutputHelper output)
{
    private const int Proposals = 20;

    /// <summary>Fixed seeds so CI runs the same cases every time; ZK_SEED replaces them with one of your choosing.</summary>
    public static TheoryData<int> Seeds() => int.TryParse(Environment.GetEnvironmentVariable("ZK_SEED"), out var s)
        ? new TheoryData<int> { s }
        : new TheoryData<int> { 1, 651997185, 20261204, 424242, 987654321 };

    [Theory]
    [MemberData(nameof(Seeds))]
    public async Task Three_cores_over_the_in_memory_network_elect_a_leader_and_commit_proposals_through_encoded_messages(int seed)
    {
        output.WriteLine($"seed={seed} (set ZK_SEED to replay)");

        var first = await RunAsync(seed);
        output.WriteLine(first);
        Assert.Equal(first, await RunAsync(seed));   // the same seed and clock replay the same run
    }

    /// <summary>Runs until every peer applied every proposal; returns a digest of the run (history and counts).</summary>
    private static async Task<string> RunAsync(int seed)
    {
        var time = new FakeTimeProvider();
        var faults = new LinkFaults { MaxDelay = TimeSpan.FromMilliseconds(8), DropProbability = 0.02 };
        await using var network = new InMemoryNetwork(new InMemoryNetworkOptions { Seed = seed, Time = time, Faults = faults });
        var voters = new[] { 1, 2, 3 };
        var random = new SeededRandom(new Random(seed));
        var checker = new ConsensusChecker();
        var peers = new List<(SimPeer Peer, IPeerTransport Transport)>();
        foreach (var id in voters)
            peers.Add((new SimPeer(new ConsensusConfig { MyId = id, Voters = voters }, random, trees: false), network.Join(id)));
        foreach (var (peer, transport) in peers)
        {
            peer.Start();
            Drain(peer, transport, checker);
        }

        var proposed = 0;
        for (var ms = 1; ms <= 60_000 && !Done(peers, checker); ms++)
        {
            time.Advance(TimeSpan.FromMilliseconds(1));   // delivers what is due into the peers' queues
            foreach (var (peer, transport) in peers)
            {
                // One proposal at a time, until that many are committed: a proposal lost with a leader change (never
                // logged by a quorum) is simply replaced by the next leader's, as a client would retry it.
                var mayPropose = checker.History.Count < Proposals && peer.Core!.LastLogged == peer.Core.AppliedThrough;
                proposed = Turn(peer, transport, checker, tick: ms % 10 == 0, proposed, mayPropose ? proposed + 1 : proposed);
            }
        }

        Assert.True(Done(peers, checker), $"expected all 3 peers to apply at least {Proposals} committed txns within 60 s of fake time; history {checker.History.Count}, " +
            string.Join(", ", peers.Select(p => $"peer {p.Peer.Id}: {p.Peer.Core!.State} applied {p.Peer.Applied.Count}")));
        return $"history {string.Join(',', checker.History.Select(t => t.Zxid))}; delivered {network.Delivered}, lost {network.Lost}";
    }

    private static bool Done(List<(SimPeer Peer, IPeerTransport Transport)> peers, ConsensusChecker checker) =>
        checker.History.Count >= Proposals && peers.All(p => p.Peer.Core!.IsServing && p.Peer.Applied.Count == checker.History.Count);

    /// <summary>
    /// One turn of the driver's loop for a peer: tick when asked, step every message that arrived (decoded), propose the
    /// next txn once it leads an established epoch, then drain. Returns how many txns have been proposed.
    /// </summary>
    internal static int Turn(SimPeer peer, IPeerTransport transport, ConsensusChecker checker, bool tick, int proposed, int proposals)
    {
        if (tick)
            peer.Core!.Tick();
        while (transport.Events.TryRead(out var e))
        {
            using (e)
            {
                if (e.Kind == TransportEventKind.Message)
                    peer.Core!.Step(e.Peer, MessageCodec.Decode(e.Payload, transport.Limits.MaxMessageBytes));
            }
        }
        if (proposed < proposals && peer.Core!.EstablishedEpoch is not null && peer.Core.Propose(Encoding.UTF8.GetBytes($"txn {proposed}")) is not null)
            proposed++;
        Drain(peer, transport, checker);
        return proposed;
    }

    /// <summary>The driver's part: encode and send messages, make persist requests durable at once, apply and check.</summary>
    internal static void Drain(SimPeer peer, IPeerTransport transport, ConsensusChecker checker)
    {
        var output = new PeerOutput(peer, transport, checker);
        while (peer.Core is { HasReady: true } core)
        {
            ReadyOrder.HandOn(core.TakeReady(), output);
            checker.CheckLeader(peer);
            peer.CompleteStorage(peer.PendingCount);
        }
    }

    private sealed class PeerOutput(SimPeer peer, IPeerTransport transport, ConsensusChecker checker) : SimPeerOutput(peer, checker)
    {
        public override void Send(int to, ZabMessage message) => transport.Send(to, MessageCodec.Encode(message));
    }
}
