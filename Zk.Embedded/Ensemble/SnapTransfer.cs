using System.Buffers;
using Zk.Embedded.Api;
using Zk.Embedded.Consensus;
using Zk.Embedded.Transport;

namespace Zk.Embedded.Ensemble;

/// <summary>
/// A SNAP on its way to one learner as <see cref="SnapChunk"/>s, read from the snapshot's file (or memory) one chunk
/// at a time. Flow control, since a lost chunk costs the whole transfer: at most a window of bytes is sent and not yet
/// acknowledged (<see cref="SnapChunkAck"/>; a transport drops what a full receiving queue cannot take, unseen by the
/// sender), and a chunk the transport refuses is offered again at the next <see cref="Pump"/>. Whatever the core sends
/// this learner meanwhile (the rest of the sync stream, NEWLEADER, proposals) is held and sent once the learner has
/// every chunk, in order, so the channel stays FIFO; more than <see cref="MaxHeld"/> held messages abort the transfer
/// (the learner, stuck in sync, fails its initLimit and syncs again).
/// </summary>
internal sealed class SnapSender : IDisposable
{
    /// <summary>Messages held behind the chunks at most.</summary>
    public const int MaxHeld = 16 * 1024;

    private readonly Queue<byte[]> _held = new();
    private readonly ConsensusSnapshot _snapshot;
    private readonly SnapshotBody? _file;
    private readonly int _chunkBytes;
    private readonly int _windowChunks;
    private readonly Zxid _zxid;
    private Stream? _source;   // opened once the body's file is written
    private byte[] _chunk = [];
    private long _total;
    private long _window;
    private long _offset;
    private long _acked;
    private int _pendingLength = -1;   // a chunk read but refused by the transport
    private bool _sentAny;             // an empty snapshot still goes as one (empty) chunk

    public SnapSender(int to, ConsensusSnapshot snapshot, int chunkBytes, int windowChunks, long now)
    {
        To = to;
        (_snapshot, _zxid, _chunkBytes, _windowChunks) = (snapshot, snapshot.Zxid, chunkBytes, windowChunks);
        _file = snapshot.Body as SnapshotBody;
        LastProgress = now;
    }

    public int To { get; }

    public Zxid Zxid => _zxid;

    /// <summary>The driver tick at which a chunk or held message last went out.</summary>
    public long LastProgress { get; private set; }

    public int Held => _held.Count;

    /// <summary>The learner has written <paramref name="ack"/>.Received bytes of this snapshot.</summary>
    public void Acked(SnapChunkAck ack, long now)
    {
        if (ack.Zxid != _zxid || ack.Received <= _acked || ack.Received > _offset)
            return; // of an earlier transfer, or stale
        _acked = ack.Received;
        LastProgress = now;
    }

    /// <summary>Holds a message for after the chunks; false when too many are held (abort).</summary>
    public bool Hold(ReadOnlySpan<byte> encoded)
    {
        if (_held.Count >= MaxHeld)
            return false;
        _held.Enqueue(encoded.ToArray());
        return true;
    }

    /// <summary>Sends what the transport takes now; true once every chunk and held message is out.</summary>
    /// <exception cref="IOException">The snapshot's file could not be written or read.</exception>
    public bool Pump(IPeerTransport transport, ArrayBufferWriter<byte> buffer, long now)
    {
        if (_source is null && !Open(now))
            return false;
        while (_offset < _total || _pendingLength >= 0 || !_sentAny)
        {
            if (_offset - _acked >= _window)
                return false; // the learner has not taken what is in flight yet
            if (_pendingLength < 0)
                _pendingLength = _source!.ReadAtLeast(_chunk, (int)Math.Min(_chunk.Length, _total - _offset));
            buffer.ResetWrittenCount();
            MessageCodec.Encode(new SnapChunk(_zxid, _offset, _total, _chunk.AsMemory(0, _pendingLength)), buffer);
            if (!transport.Send(To, buffer.WrittenSpan))
                return false;
            _offset += _pendingLength;
            _pendingLength = -1;
            _sentAny = true;
            LastProgress = now;
        }

        if (_acked < _total)
            return false;
        while (_held.TryPeek(out var message))
        {
            if (!transport.Send(To, message))
                return false;
            _held.Dequeue();
            LastProgress = now;
        }

        return true;
    }

    /// <summary>Opens the source once the body is written (on a thread of its own, off the loop); false while it is not.</summary>
    private bool Open(long now)
    {
        if (_file is { } file)
        {
            if (!file.Written.IsCompleted)
            {
                LastProgress = now; // writing is progress: the transfer has not stalled
                return false;
            }

            file.Written.GetAwaiter().GetResult(); // a failed write surfaces here
            _source = new FileStream(file.Path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1 << 16, FileOptions.SequentialScan);
        }
        else
        {
            _source = new MemoryStream(_snapshot.Data.ToArray(), writable: false);
        }

        _total = _source.Length;
        _chunk = new byte[(int)Math.Min(_chunkBytes, Math.Max(1, _total))];
        _window = (long)_chunk.Length * Math.Max(1, _windowChunks);
        return true;
    }

    public void Dispose()
    {
        _source?.Dispose();
        _file?.DeleteWhenWritten();
    }
}

/// <summary>
/// The learner's side: a SNAP's chunks written to a spool file in order, never held in memory; on the last one the
/// file is fsynced and becomes the snapshot's <see cref="SnapshotBody"/>. Anything out of order (a chunk of another
/// transfer or sender, a gap) ends it and its file is deleted, as is a transfer whose sender is lost.
/// </summary>
internal sealed class SnapAssembler : IDisposable
{
    private readonly FileStream _file;
    private readonly string _path;
    private long _received;

    public int Chunks { get; private set; }

    public long Received => _received;

    public SnapAssembler(int from, SnapChunk first, string path)
    {
        (From, Zxid, Total, _path) = (from, first.Zxid, first.Total, path);
        _file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
    }

    public int From { get; }

    public Zxid Zxid { get; }

    public long Total { get; }

    /// <summary>True when <paramref name="chunk"/> from <paramref name="from"/> is the next piece of this transfer.</summary>
    public bool Continues(int from, SnapChunk chunk) =>
        from == From && chunk.Zxid == Zxid && chunk.Total == Total && chunk.Offset == _received;

    /// <summary>Appends the chunk; returns the finished, durable body after the last one, else null.</summary>
    public SnapshotBody? Append(SnapChunk chunk)
    {
        _file.Write(chunk.Data.Span);
        _received += chunk.Data.Length;
        Chunks++;
        if (_received < Total)
            return null;
        _file.Flush(flushToDisk: true); // durable before the core may install it and ACK NEWLEADER on it
        _file.Dispose();
        return new SnapshotBody(_path, Total);
    }

    /// <summary>Drops a transfer that will not finish: the partial file goes.</summary>
    public void Discard()
    {
        _file.Dispose();
        File.Delete(_path);
    }

    public void Dispose() => _file.Dispose();
}
