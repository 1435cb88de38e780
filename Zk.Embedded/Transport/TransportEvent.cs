namespace Zk.Embedded.Transport;

/// <summary>What a <see cref="TransportEvent"/> reports.</summary>
public enum TransportEventKind
{
    /// <summary>A message from <see cref="TransportEvent.Peer"/>; the bytes are in <see cref="TransportEvent.Payload"/>.</summary>
    Message = 0,

    /// <summary>The transport can now reach <see cref="TransportEvent.Peer"/> (it started, or came back).</summary>
    Connected = 1,

    /// <summary>
    /// The transport saw <see cref="TransportEvent.Peer"/>'s connection end (the peer stopped or crashed). Anything
    /// queued to it may be lost; what is sent after a later <see cref="Connected"/> is ordered again.
    /// </summary>
    Disconnected = 2,
}

/// <summary>
/// One received message or connection notice. A message's <see cref="Payload"/> is usually a pooled buffer owned
/// by this event: it stays valid until <see cref="Dispose"/>, which returns it; the reader disposes each event
/// exactly once, after decoding it, and never keeps the payload beyond that.
/// </summary>
public readonly struct TransportEvent : IDisposable
{
    private readonly IDisposable? _owner;

    private TransportEvent(TransportEventKind kind, int peer, ReadOnlyMemory<byte> payload, IDisposable? owner)
    {
        Kind = kind;
        Peer = peer;
        Payload = payload;
        _owner = owner;
    }

    /// <summary>What happened.</summary>
    public TransportEventKind Kind { get; }

    /// <summary>The peer the message came from, or whose connection changed.</summary>
    public int Peer { get; }

    /// <summary>The message's bytes (empty for notices); valid until <see cref="Dispose"/>.</summary>
    public ReadOnlyMemory<byte> Payload { get; }

    /// <summary>
    /// A message from <paramref name="from"/>. <paramref name="owner"/>, when given, is disposed with the event and
    /// releases the payload's buffer; it must tolerate being disposed more than once.
    /// </summary>
    public static TransportEvent Message(int from, ReadOnlyMemory<byte> payload, IDisposable? owner = null) =>
        new(TransportEventKind.Message, from, payload, owner);

    /// <summary>A notice that <paramref name="peer"/> can now be reached.</summary>
    public static TransportEvent Connected(int peer) => new(TransportEventKind.Connected, peer, default, null);

    /// <summary>A notice that <paramref name="peer"/>'s connection ended.</summary>
    public static TransportEvent Disconnected(int peer) => new(TransportEventKind.Disconnected, peer, default, null);

    /// <summary>Releases the payload's buffer (to its pool).</summary>
    public void Dispose() => _owner?.Dispose();

    /// <inheritdoc/>
    public override string ToString() => Kind == TransportEventKind.Message ? $"Message from {Peer} ({Payload.Length} bytes)" : $"{Kind} {Peer}";
}
