using System.Buffers;
using Microsoft.Extensions.Logging;
using Zk.Embedded.Consensus;
using Zk.Embedded.Transport;

namespace Zk.Embedded.Ensemble;

/// <summary>
/// The driver's chunked SNAP, both ways (issue 13 point c). Out: a snapshot in a file, or one whose message would
/// pass the transport's bound, goes as <see cref="SnapChunk"/>s with flow control (<see cref="SnapSender"/>). In:
/// chunks are assembled into a spool file (<see cref="SnapAssembler"/>); the whole SNAP then steps the core with the
/// file as its body, which the store installs by a rename and the tree reads from disk. A learner that loses its
/// leader mid-transfer (a disconnect, a gap, going LOOKING) deletes the partial file; an assembled file the core did
/// not take, or that the store copied, is deleted once the install is durable. On the driver's loop only.
/// </summary>
internal sealed class SnapTransfers(IPeerTransport transport, SnapshotSpool spool, int myId, long stallTicks, ILogger logger) : IDisposable
{
    /// <summary>Chunk payloads at most: small enough that a default transport queue holds many.</summary>
    private const int MaxChunkBytes = 1 << 20;

    /// <summary>Room for a chunk's array header, kind, zxid, offset, total and bin header.</summary>
    private const int ChunkOverhead = 64;

    private readonly Dictionary<int, SnapSender> _senders = [];
    private readonly List<(long Seq, SnapshotBody Body)> _installing = [];
    private readonly ArrayBufferWriter<byte> _buffer = new(1024);
    private SnapAssembler? _incoming;

    public SnapshotSpool Spool => spool;

    public bool Sending => _senders.Count > 0;

    /// <summary>True when a SNAP with this encoded length must go in chunks.</summary>
    public bool MustChunk(ConsensusSnapshot snapshot, int encodedLength) =>
        snapshot.Body is not null || encodedLength > transport.Limits.MaxMessageBytes;

    /// <summary>Starts sending <paramref name="snapshot"/> to <paramref name="to"/>, replacing a transfer still going to it.</summary>
    public void Start(int to, ConsensusSnapshot snapshot, long now)
    {
        Abort(to, "a newer SNAP replaces it");
        var limits = transport.Limits;
        var chunk = Math.Clamp(limits.MaxMessageBytes - ChunkOverhead, 1, MaxChunkBytes);
        // In flight at most: a quarter of a receiving queue's messages and half its bytes, room for the rest of its traffic.
        var window = (int)Math.Max(1, Math.Min(limits.QueueMessages / 4, limits.QueueBytes / 2 / chunk));
        _senders[to] = new SnapSender(to, snapshot, chunk, window, now);
        PumpOne(to, now);
    }

    /// <summary>
    /// Holds a message for <paramref name="to"/> behind its SNAP's chunks; false when no transfer is going to it (send it
    /// now). Too many held messages abort the transfer and drop them: the learner fails its sync and starts again.
    /// </summary>
    public bool Hold(int to, ReadOnlySpan<byte> encoded)
    {
        if (!_senders.TryGetValue(to, out var sender))
            return false;
        if (!sender.Hold(encoded))
            Abort(to, $"more than {SnapSender.MaxHeld} messages waited behind it");
        return true;
    }

    /// <summary>The learner <paramref name="from"/> acknowledged chunks: the window moves on.</summary>
    public void Acked(int from, SnapChunkAck ack, long now)
    {
        if (!_senders.TryGetValue(from, out var sender))
            return;
        sender.Acked(ack, now);
        PumpOne(from, now);
    }

    /// <summary>Offers every transfer's next chunks to the transport; one without progress for too long is abandoned.</summary>
    public void Pump(long now)
    {
        foreach (var (to, sender) in _senders.ToArray())
        {
            if (PumpOne(to, now) && now - sender.LastProgress > stallTicks)
                Abort(to, $"the transport took nothing for {stallTicks} ticks");
        }
    }

    /// <summary>Pumps one transfer; true while it goes on. A snapshot file that cannot be written or read abandons it.</summary>
    private bool PumpOne(int to, long now)
    {
        var sender = _senders[to];
        try
        {
            if (!sender.Pump(transport, _buffer, now))
                return true;
            Finish(to);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Abort(to, $"its snapshot file failed: {e.Message}");
        }

        return false;
    }

    /// <summary>
    /// Takes one chunk from <paramref name="from"/>; returns the assembled snapshot's body after the last one. A chunk that
    /// does not continue the transfer discards it (the core then fails the sync on what follows and starts again).
    /// </summary>
    public SnapshotBody? Receive(int from, SnapChunk chunk)
    {
        if (chunk.Offset == 0)
        {
            Discard("a new SNAP started");
            _incoming = new SnapAssembler(from, chunk, spool.NewPath("in", chunk.Zxid));
        }
        else if (_incoming is null || !_incoming.Continues(from, chunk))
        {
            Discard($"chunk at {chunk.Offset} of the SNAP at {chunk.Zxid} from {from} does not continue it");
            return null;
        }

        var incoming = _incoming;
        var body = incoming.Append(chunk);
        _buffer.ResetWrittenCount();
        MessageCodec.Encode(new SnapChunkAck(chunk.Zxid, incoming.Received), _buffer);
        transport.Send(from, _buffer.WrittenSpan); // a lost ack stalls the sender, which gives up; the sync starts over
        if (body is null)
            return null;
        _incoming = null;
        Log.SnapAssembled(logger, myId, from, chunk.Zxid, body.Length, incoming.Chunks);
        return body;
    }

    /// <summary>The connection to <paramref name="peer"/> is gone: so is any transfer with it.</summary>
    public void PeerLost(int peer)
    {
        Abort(peer, "the connection was lost");
        if (_incoming?.From == peer)
            Discard($"the connection to {peer} was lost");
    }

    /// <summary>This peer stopped following (LOOKING): a partial SNAP from its old leader is of no use.</summary>
    public void LeaderLost(string reason) => Discard(reason);

    /// <summary>The store was asked to install <paramref name="body"/> with request <paramref name="seq"/>.</summary>
    public void Installing(long seq, SnapshotBody body) => _installing.Add((seq, body));

    /// <summary>True when <paramref name="body"/> was handed to the store.</summary>
    public bool IsInstalling(SnapshotBody body) => _installing.Exists(i => ReferenceEquals(i.Body, body));

    /// <summary>Requests through <paramref name="seq"/> are durable: their spool files (if the store copied them) go.</summary>
    public void Durable(long seq)
    {
        for (var i = _installing.Count - 1; i >= 0; i--)
        {
            if (_installing[i].Seq <= seq)
            {
                _installing[i].Body.Delete();
                _installing.RemoveAt(i);
            }
        }
    }

    public void Dispose()
    {
        foreach (var sender in _senders.Values)
            sender.Dispose();
        _senders.Clear();
        _incoming?.Discard();
        foreach (var (_, body) in _installing)
            body.Delete();
        spool.Dispose();
    }

    private void Finish(int to)
    {
        _senders.Remove(to, out var sender);
        sender?.Dispose();
    }

    private void Abort(int to, string reason)
    {
        if (!_senders.Remove(to, out var sender))
            return;
        Log.SnapTransferAborted(logger, myId, to, sender.Zxid, reason);
        sender.Dispose();
    }

    private void Discard(string reason)
    {
        if (_incoming is not { } incoming)
            return;
        _incoming = null;
        Log.SnapAssemblyDiscarded(logger, myId, incoming.From, incoming.Zxid, incoming.Received, incoming.Total, reason);
        incoming.Discard();
    }
}
