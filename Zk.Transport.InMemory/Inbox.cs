using System.Diagnostics.CodeAnalysis;
using System.Threading.Channels;
using Zk.Embedded.Transport;

namespace Zk.Transport.InMemory;

/// <summary>
/// A peer's receive queue: messages bounded by <see cref="TransportLimits"/> (counted out when the reader takes
/// them), notices unbounded. The network posts under its lock; the reader reads from its own thread.
/// </summary>
internal sealed class Inbox(TransportLimits limits) : ChannelReader<TransportEvent>
{
    private readonly Channel<TransportEvent> _channel = Channel.CreateUnbounded<TransportEvent>(
        new UnboundedChannelOptions { AllowSynchronousContinuations = false });   // a reader never runs under the network's lock
    private int _messages;
    private long _bytes;

    public override Task Completion => _channel.Reader.Completion;
    public override bool CanCount => true;
    public override int Count => _channel.Reader.Count;
    public override bool CanPeek => true;

    /// <summary>Posts a message; false (and the caller still owns it) when the inbox is full or closed.</summary>
    public bool TryPost(int from, PooledPayload payload)
    {
        if (!limits.Admits(Volatile.Read(ref _messages), Interlocked.Read(ref _bytes), payload.Length))
            return false;
        Interlocked.Increment(ref _messages);
        Interlocked.Add(ref _bytes, payload.Length);
        if (_channel.Writer.TryWrite(TransportEvent.Message(from, payload.Memory, payload)))
            return true;
        Taken(payload.Length);
        return false;
    }

    public void PostNotice(TransportEvent notice) => _channel.Writer.TryWrite(notice);

    /// <summary>Completes the reader and releases whatever it had not taken: after this nothing is delivered.</summary>
    public void Close()
    {
        _channel.Writer.TryComplete();
        while (TryRead(out var item))
            item.Dispose();
    }

    public override bool TryRead([MaybeNullWhen(false)] out TransportEvent item)
    {
        if (!_channel.Reader.TryRead(out item))
            return false;
        if (item.Kind == TransportEventKind.Message)
            Taken(item.Payload.Length);
        return true;
    }

    public override bool TryPeek([MaybeNullWhen(false)] out TransportEvent item) => _channel.Reader.TryPeek(out item);

    public override ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken = default) =>
        _channel.Reader.WaitToReadAsync(cancellationToken);

    private void Taken(int length)
    {
        Interlocked.Decrement(ref _messages);
        Interlocked.Add(ref _bytes, -length);
    }
}
