using Zk.Embedded.Consensus;
using Zk.Embedded.Transport;

namespace Zk.Embedded.Ensemble;

/// <summary>The driver's messages: frames in from the transport, decoded and stepped; messages out, through the outbox.</summary>
internal sealed partial class ConsensusDriver
{
    private void Receive(in TransportEvent e)
    {
        // A closed connection is news the core can use at once (a crashed leader's followers need not wait syncLimit
        // ticks); a silent peer is still found by the core's own limits. Client traffic in flight is gone too.
        if (e.Kind == TransportEventKind.Disconnected)
        {
            _snaps.PeerLost(e.Peer);
            _core.Disconnected(e.Peer);
            PeerDisconnected?.Invoke(e.Peer);
        }
        if (e.Kind != TransportEventKind.Message)
            return;
        _received.Clear();
        try
        {
            MessageCodec.DecodeFrame(e.Payload, _transport.Limits.MaxMessageBytes, _received, _arena);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // A garbled message is a lost one (with the rest of its frame), which the protocol already tolerates.
            Log.UndecodableMessage(_logger, ex, _core.Id, e.Peer);
        }

        foreach (var message in _received)
            Step(e.Peer, message);
    }

    private void Step(int from, ZabMessage message)
    {
        if (message is ClientTraffic traffic)
            TrafficReceived?.Invoke(from, traffic);
        else if (message is SnapChunk chunk)
            ReceiveChunk(from, chunk);
        else if (message is SnapChunkAck ack)
        {
            _snaps.Acked(from, ack, _ticks);
            _core.SyncProgress(from);
        }
        else
            _core.Step(from, message);
    }

    /// <summary>A SNAP's chunk; the last one steps the core with the whole SNAP, its body in the spool file.</summary>
    private void ReceiveChunk(int from, SnapChunk chunk)
    {
        _core.SyncProgress(from); // a long transfer is not a silent leader
        _outbox.Flush(from);      // the chunk's ack goes straight to the transport, after what the core sent before
        if (_snaps.Receive(from, chunk) is not { } body)
            return;
        _core.Step(from, new Snap(new ConsensusSnapshot(chunk.Zxid, ReadOnlyMemory<byte>.Empty) { Body = body }));
        Drain();
        if (!_snaps.IsInstalling(body))
            body.Delete(); // the core did not take it (not syncing any more): nothing else will
    }

    private bool Send(int to, ZabMessage message)
    {
        _encoded.ResetWrittenCount();
        if (message is Snap { Snapshot.Body: not null } spooled)
        {
            StartSnap(to, spooled);
            return true;
        }

        MessageCodec.Encode(message, _encoded);
        if (message is Snap snap && _snaps.MustChunk(snap.Snapshot, _encoded.WrittenCount))
        {
            StartSnap(to, snap);
            return true;
        }

        if (_snaps.Hold(to, _encoded.WrittenSpan))
            return true; // after the SNAP's chunks on this channel, which stays FIFO
        if (_encoded.WrittenCount > _transport.Limits.MaxMessageBytes)
        {
            // Dropped like a lost message; the peer's timeouts resend or resync.
            Log.UndecodableMessage(_logger, new InvalidOperationException($"{message.GetType().Name} of {_encoded.WrittenCount} bytes exceeds the transport's limit"), _core.Id, to);
            return false;
        }

        var sent = _outbox.Add(to, _encoded.WrittenSpan, message is ClientTraffic);
        if (message is Diff or Trunc or Snap)
            CountSync(to, message);
        return sent;
    }

    private void StartSnap(int to, Snap snap)
    {
        _outbox.Flush(to); // the chunks go straight to the transport, after what the core sent before
        _snaps.Start(to, snap.Snapshot, _ticks);
        CountSync(to, snap);
    }

    /// <summary>A frame holding client traffic was refused: nothing resends it, so it is handled as a lost connection.</summary>
    private void TrafficLost(int to)
    {
        Log.TrafficLost(_logger, _core.Id, to);
        PeerDisconnected?.Invoke(to);
    }
}
