using Microsoft.Extensions.Time.Testing;
using Zk.Embedded.Consensus;
using Zk.Embedded.Transport;
using Zk.Transport.InMemory;

namespace Zk.Testing.Simulation;

/// <summary>The simulator's network: its own ordered channels (<see cref="SimNetwork"/>) or the real in-memory transport (<see cref="TransportNetwork"/>).</summary>
internal interface ISimNetwork
{
    /// <summary>Queues the message; false when a queue was full and it was dropped.</summary>
    bool Send(int from, int to, ZabMessage message);

    /// <summary>Takes one message for a peer that <paramref name="receives"/> now, the seed choosing among those waiting.</summary>
    bool TryTake(Random random, Func<int, bool> receives, out int from, out int to, out ZabMessage message);

    /// <summary>Messages waiting for <paramref name="to"/>.</summary>
    int Queued(int to);

    /// <summary>The peer (re)starts: it is on the network again.</summary>
    void Joined(int peer);

    /// <summary>The peer crashed: what it had queued either way is gone.</summary>
    void Reset(int peer);
}

/// <summary>
/// The real in-memory transport as the simulator's network (<c>SimOptions.OverTransport</c>): each peer an endpoint of
/// one <see cref="InMemoryNetwork"/> on the simulation's clock (one millisecond per scheduler step), every message
/// encoded by <see cref="MessageCodec"/> into bytes and decoded on arrival as the driver does. Links delay each
/// message by up to <paramref name="maxDelaySteps"/> steps (the network's own seeded delays), so pairs reorder against
/// each other while each pair stays in order; a receiver's queue holds <paramref name="bound"/> messages and drops
/// newer ones when full (a paused peer's fills). A crash disposes the peer's endpoint, and every other peer hears
/// Disconnected, which <paramref name="disconnected"/> hands to its core as <c>ConsensusDriver</c> does; a restart joins
/// again.
/// </summary>
internal sealed class TransportNetwork(int seed, Func<long> now, Action<int, int> disconnected, int bound = 32, int maxDelaySteps = 20) : ISimNetwork
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UnixEpoch);
    private readonly SortedDictionary<int, IPeerTransport> _endpoints = [];
    private readonly List<int> _waiting = [];
    private readonly List<int> _lost = [];
    private InMemoryNetwork? _network;

    private InMemoryNetwork Network => _network ??= new InMemoryNetwork(new InMemoryNetworkOptions
    {
        Seed = seed,
        Time = _time,
        Limits = new TransportLimits { QueueMessages = bound },
        Faults = new LinkFaults { MaxDelay = TimeSpan.FromMilliseconds(maxDelaySteps) },
    });

    public bool Send(int from, int to, ZabMessage message)
    {
        Advance();
        return _endpoints.TryGetValue(from, out var transport) && transport.Send(to, MessageCodec.Encode(message));
    }

    public bool TryTake(Random random, Func<int, bool> receives, out int from, out int to, out ZabMessage message)
    {
        Advance();
        _waiting.Clear();
        foreach (var (id, transport) in _endpoints)
        {
            if (transport.Events.Count > 0 && receives(id))
                _waiting.Add(id);
        }
        (from, to, message) = (0, 0, null!);
        if (_waiting.Count == 0)
            return false;
        to = _waiting[random.Next(_waiting.Count)];
        var events = _endpoints[to].Events;
        _lost.Clear();
        var taken = false;
        while (!taken && events.TryRead(out var e))
        {
            using (e)
            {
                if (e.Kind == TransportEventKind.Disconnected)
                    _lost.Add(e.Peer);
                else if (e.Kind == TransportEventKind.Message)
                    (from, message, taken) = (e.Peer, MessageCodec.Decode(e.Payload, _endpoints[to].Limits.MaxMessageBytes), true);
            }
        }
        foreach (var peer in _lost)
            disconnected(to, peer);
        return taken;
    }

    public int Queued(int to) => _endpoints.TryGetValue(to, out var transport) ? transport.Events.Count : 0;

    public void Joined(int peer) => _endpoints[peer] = Network.Join(peer);

    public void Reset(int peer)
    {
        if (_endpoints.Remove(peer))
            Network.Crash(peer);
    }

    private void Advance()
    {
        var due = DateTimeOffset.UnixEpoch.AddMilliseconds(now());
        if (due > _time.GetUtcNow())
            _time.SetUtcNow(due);   // the network's timer delivers what is due into the receivers' queues
    }
}
