using System.Threading.Channels;

namespace Zk.Embedded.Transport;

/// <summary>
/// One peer's end of the ensemble's peer-to-peer network: opaque, length-framed byte messages between peer ids.
/// The consensus driver encodes each consensus message into one message here; each transport assembly
/// implements it, and the core library never names an implementation.
/// </summary>
/// <remarks>
/// <para>The rules every implementation keeps (the contract test suite checks each one):</para>
/// <list type="number">
/// <item><b>Ordered, possibly lossy, per pair.</b> What peer B receives from peer A is a subsequence of what A sent
/// to B, in the order sent: a message may be lost (a full queue, a broken connection, a partition), never
/// duplicated, never reordered with another message of the same pair. Messages of different pairs interleave in
/// any order. Receivers detect loss themselves (ZAB's PROPOSAL names its predecessor).</item>
/// <item><b>Send never blocks.</b> <see cref="Send"/> copies the message into the queue for that peer and
/// returns. Each peer's queue is bounded by <see cref="TransportLimits"/> (messages and bytes); when it is full the
/// new message is dropped (tail drop) and Send returns false. So a slow, paused or dead peer costs at most one
/// queue of memory, never more.</item>
/// <item><b>Bounded receive.</b> Received messages wait in <see cref="Events"/>, bounded the same way; when the
/// driver does not keep up, newly arriving messages are dropped.</item>
/// <item><b>Connection notices.</b> <see cref="Events"/> also carries <see cref="TransportEventKind.Connected"/>
/// and <see cref="TransportEventKind.Disconnected"/> for a peer whenever the transport sees its connection come
/// or go: promptly when it can see it (a process that died closes its sockets), never when it cannot (a silent
/// partition or a paused process: the driver's own timeouts find those). Notices are not subject to the queue
/// bound, since each needs a peer to come or go; they are never dropped.</item>
/// <item><b>Size bound.</b> A message may be up to <see cref="TransportLimits.MaxMessageBytes"/>; a longer one is
/// refused by <see cref="Send"/> with <see cref="ArgumentOutOfRangeException"/>, and a transport that receives a
/// longer frame drops it (and may drop the connection) instead of allocating it.</item>
/// <item><b>Dispose stops everything.</b> After <see cref="IAsyncDisposable.DisposeAsync"/> returns, nothing more
/// is delivered: <see cref="Events"/> is completed, messages still queued either way are released, Send returns
/// false, and the other peers see this one disconnect.</item>
/// </list>
/// <para>Thread safety: <see cref="Send"/> may be called from any thread; <see cref="Events"/> may be read from
/// any one thread at a time.</para>
/// </remarks>
public interface IPeerTransport : IAsyncDisposable
{
    /// <summary>This peer's id (zoo.cfg's <c>server.N</c>, the <c>myid</c> file).</summary>
    int LocalId { get; }

    /// <summary>The bounds this transport enforces.</summary>
    TransportLimits Limits { get; }

    /// <summary>
    /// Queues <paramref name="message"/> for peer <paramref name="to"/> and returns at once. The bytes are copied
    /// before it returns, so the caller may reuse its buffer.
    /// </summary>
    /// <returns>
    /// True when the message was queued (it may still be lost on the way); false when it was dropped here: that
    /// peer's queue is full, no such peer is connected, or this transport is disposed.
    /// </returns>
    /// <exception cref="ArgumentOutOfRangeException">The message is longer than <see cref="TransportLimits.MaxMessageBytes"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="to"/> is this peer's own id.</exception>
    bool Send(int to, ReadOnlySpan<byte> message);

    /// <summary>
    /// Received messages and connection notices, in arrival order (per sending peer: the order sent). The reader
    /// owns each <see cref="TransportEvent"/> it takes and disposes it once done with its payload. Completed when
    /// the transport is disposed.
    /// </summary>
    ChannelReader<TransportEvent> Events { get; }
}
