namespace Zk.Embedded.Transport;

/// <summary>
/// The bounds of a peer transport: the largest message, and how much each queue may hold (each per-peer send queue
/// and the receive queue alike). A slow or dead peer therefore costs at most one queue of memory.
/// </summary>
public sealed record TransportLimits
{
    /// <summary>
    /// The largest message, in bytes (64 MiB). A SNAP carries a whole tree as one message, so this also bounds the
    /// tree a learner can be sent; ZooKeeper streams SNAP instead and has no such bound.
    /// </summary>
    public int MaxMessageBytes { get; init; } = 64 * 1024 * 1024;

    /// <summary>Messages one queue may hold (4096: ZooKeeper keeps a few thousand proposals in flight at most).</summary>
    public int QueueMessages { get; init; } = 4096;

    /// <summary>Bytes one queue may hold (16 MiB), beyond which messages are dropped; a queue that is empty always admits one message up to <see cref="MaxMessageBytes"/>.</summary>
    public long QueueBytes { get; init; } = 16 * 1024 * 1024;

    /// <summary>The queue rule every transport applies: may a message of <paramref name="messageBytes"/> join a queue holding <paramref name="queuedMessages"/> messages of <paramref name="queuedBytes"/> bytes?</summary>
    public bool Admits(int queuedMessages, long queuedBytes, int messageBytes) =>
        queuedMessages == 0 || (queuedMessages < QueueMessages && queuedBytes + messageBytes <= QueueBytes);

    /// <summary>Throws naming the property that is out of range.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A bound is zero or negative.</exception>
    public void Validate()
    {
        if (MaxMessageBytes < 1)
            throw new ArgumentOutOfRangeException(nameof(MaxMessageBytes), MaxMessageBytes, "MaxMessageBytes must be at least 1");
        if (QueueMessages < 1)
            throw new ArgumentOutOfRangeException(nameof(QueueMessages), QueueMessages, "QueueMessages must be at least 1");
        if (QueueBytes < 1)
            throw new ArgumentOutOfRangeException(nameof(QueueBytes), QueueBytes, "QueueBytes must be at least 1");
    }

    /// <summary>Throws when <paramref name="length"/> is over <see cref="MaxMessageBytes"/>: the one refusal every <see cref="IPeerTransport.Send"/> makes.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The message is too long.</exception>
    public void CheckMessage(int length)
    {
        if (length > MaxMessageBytes)
            throw new ArgumentOutOfRangeException(nameof(length), length, $"a peer message of {length} bytes exceeds MaxMessageBytes ({MaxMessageBytes})");
    }
}
