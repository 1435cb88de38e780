using System.Threading.Channels;
using Zk.Embedded.Transport;

namespace Zk.Transport.InMemory;

/// <summary>One peer's <see cref="IPeerTransport"/> on an <see cref="InMemoryNetwork"/>; all state lives in the network.</summary>
internal sealed class Endpoint(InMemoryNetwork network, int id, TransportLimits limits) : IPeerTransport
{
    private volatile bool _disposed;

    public int LocalId => id;
    public TransportLimits Limits => limits;
    public Inbox Inbox { get; } = new(limits);
    public ChannelReader<TransportEvent> Events => Inbox;
    public bool Disposed => _disposed;

    public bool Send(int to, ReadOnlySpan<byte> message)
    {
        limits.CheckMessage(message.Length);
        if (to == id)
            throw new ArgumentException($"peer {id} cannot send to itself", nameof(to));
        return !_disposed && network.Send(this, to, message);
    }

    public ValueTask DisposeAsync()
    {
        if (!_disposed)
        {
            _disposed = true;
            network.Remove(this);
        }
        return default;
    }

    public override string ToString() => $"in-memory peer {id}";
}
