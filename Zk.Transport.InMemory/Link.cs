using Zk.Embedded.Transport;

namespace Zk.Transport.InMemory;

/// <summary>
/// The messages in flight from one peer to another, in send order: the sender's bounded queue for that peer.
/// Due times never decrease along the queue, so a delay never reorders the pair. Used under the network's lock.
/// </summary>
internal sealed class Link(int from, int to)
{
    private readonly Queue<(DateTimeOffset Due, PooledPayload Payload)> _queue = new();
    private long _bytes;

    public int From => from;
    public int To => to;
    public int Count => _queue.Count;
    public DateTimeOffset LastDue { get; private set; } = DateTimeOffset.MinValue;

    public bool TryEnqueue(TransportLimits limits, DateTimeOffset due, PooledPayload payload)
    {
        if (!limits.Admits(_queue.Count, _bytes, payload.Length))
            return false;
        LastDue = due > LastDue ? due : LastDue;
        _queue.Enqueue((LastDue, payload));
        _bytes += payload.Length;
        return true;
    }

    public bool TryPeekDue(out DateTimeOffset due)
    {
        var found = _queue.TryPeek(out var head);
        due = head.Due;
        return found;
    }

    public PooledPayload Dequeue()
    {
        var (_, payload) = _queue.Dequeue();
        _bytes -= payload.Length;
        return payload;
    }

    /// <summary>Releases everything in flight (a crash, a reset connection).</summary>
    public void Clear()
    {
        while (_queue.Count > 0)
            Dequeue().Dispose();
    }
}
