using Zk.Embedded.Consensus;

namespace Zk.Testing.Simulation;

/// <summary>
/// Ordered, lossy channels between peers (the transport contract of issue 13): one FIFO queue per (from, to) pair.
/// The scheduler picks which channel delivers next, so messages on different channels interleave in any order.
/// A crashed peer's channels are emptied both ways, as its TCP connections would be reset. Each channel holds at most
/// <see cref="Bound"/> messages and drops newer ones when full (the transport's tail drop, <c>TransportLimits</c>): a
/// paused peer's inbound channels fill up. The contract forbids duplicates, even across a reconnect, so there are none.
/// </summary>
internal sealed class SimNetwork(int bound = 32) : ISimNetwork
{
    private readonly Dictionary<(int From, int To), Queue<ZabMessage>> _channels = [];
    private readonly List<(int From, int To)> _busy = [];

    public int Bound => bound;
    public int InFlight { get; private set; }

    /// <summary>Queues the message; false when the channel is full and it was dropped.</summary>
    public bool Send(int from, int to, ZabMessage message)
    {
        if (!_channels.TryGetValue((from, to), out var queue))
            _channels[(from, to)] = queue = new Queue<ZabMessage>();
        if (queue.Count >= bound)
            return false;
        queue.Enqueue(message);
        InFlight++;
        return true;
    }

    /// <summary>Takes the head of a random non-empty channel whose receiver <paramref name="receives"/> now.</summary>
    public bool TryTake(Random random, Func<int, bool> receives, out int from, out int to, out ZabMessage message)
    {
        _busy.Clear();
        foreach (var (key, queue) in _channels)
        {
            if (queue.Count > 0 && receives(key.To))
                _busy.Add(key);
        }
        if (_busy.Count == 0)
        {
            (from, to, message) = (0, 0, null!);
            return false;
        }
        _busy.Sort();   // dictionary order is an implementation detail; the seed must decide alone
        (from, to) = _busy[random.Next(_busy.Count)];
        message = _channels[(from, to)].Dequeue();
        InFlight--;
        return true;
    }

    /// <summary>Messages waiting for <paramref name="to"/>.</summary>
    public int Queued(int to) => _channels.Where(c => c.Key.To == to).Sum(c => c.Value.Count);

    public void Joined(int peer)
    {
    }

    public void Reset(int peer)
    {
        foreach (var (key, queue) in _channels)
        {
            if (key.From == peer || key.To == peer)
            {
                InFlight -= queue.Count;
                queue.Clear();
            }
        }
    }
}
