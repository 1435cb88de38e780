using Zk.Embedded.Consensus;

namespace Zk.Embedded.Tests.Consensus.Harness;

/// <summary>
/// Ordered, lossy channels between peers (the transport contract of issue 13): one FIFO queue per (from, to) pair.
/// The scheduler picks which channel delivers next, so messages on different channels interleave in any order.
/// A crashed peer's channels are emptied both ways, as its TCP connections would be reset.
/// </summary>
internal sealed class SimNetwork
{
    private readonly Dictionary<(int From, int To), Queue<ZabMessage>> _channels = [];
    private readonly List<(int From, int To)> _busy = [];

    public int InFlight { get; private set; }

    public void Send(int from, int to, ZabMessage message)
    {
        if (!_channels.TryGetValue((from, to), out var queue))
            _channels[(from, to)] = queue = new Queue<ZabMessage>();
        queue.Enqueue(message);
        InFlight++;
    }

    /// <summary>Takes the head of a random non-empty channel.</summary>
    public bool TryTake(Random random, out int from, out int to, out ZabMessage message)
    {
        _busy.Clear();
        foreach (var (key, queue) in _channels)
        {
            if (queue.Count > 0)
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
