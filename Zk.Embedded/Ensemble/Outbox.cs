using System.Buffers;
using Zk.Embedded.Transport;

namespace Zk.Embedded.Ensemble;

/// <summary>
/// What the driver's loop sends, batched per peer: the encoded messages for one peer are written one after another
/// into a frame (<see cref="Consensus.MessageCodec.DecodeFrame"/> reads them back in order), and a frame goes to the
/// transport when the loop has nothing more to do, after <see cref="MaxHeldInputs"/> inputs, or when it is full. Under
/// load a leader's PROPOSALs and COMMITs for a batch of writes, or a follower's forwarded requests, then cost one
/// transport message per peer instead of one each: the transports' per-message work (a queue slot, a copy, a wake-up
/// of the receiving loop) was what bounded an ensemble's write rate. Order per peer is kept: every direct send to a
/// peer (a SNAP's chunks, their acks) first flushes that peer's frame (<see cref="Flush(int)"/>).
/// </summary>
/// <remarks>
/// A frame the transport refuses is lost whole, as a message the transport drops is: the protocol resends or resyncs.
/// Client traffic in it (forwarded writes, replies) is reported through <paramref name="trafficLost"/>, since nothing
/// resends it.
/// </remarks>
internal sealed class Outbox(IPeerTransport transport, Action<int> trafficLost)
{
    /// <summary>Inputs the loop may handle while a frame waits: bounds the delay a busy loop adds to a message.</summary>
    public const int MaxHeldInputs = 16;

    /// <summary>Bytes a frame holds at most before it goes (also bounded by the transport's largest message).</summary>
    public const int MaxFrameBytes = 256 * 1024;

    private readonly Dictionary<int, Frame> _frames = [];
    private readonly int _frameBytes = Math.Min(MaxFrameBytes, transport.Limits.MaxMessageBytes);
    private int _waiting;        // frames holding something
    private int _heldInputs;

    /// <summary>
    /// Adds an encoded message to <paramref name="to"/>'s frame. False only when it went alone at once (it does not fit
    /// any frame) and the transport refused it.
    /// </summary>
    public bool Add(int to, ReadOnlySpan<byte> message, bool isTraffic)
    {
        var frame = FrameOf(to);
        if (frame.Buffer.WrittenCount + message.Length > _frameBytes)
        {
            Flush(to, frame);
            if (message.Length > _frameBytes)
                return SendAlone(to, message);
        }

        if (frame.Buffer.WrittenCount == 0)
            _waiting++;
        message.CopyTo(frame.Buffer.GetSpan(message.Length));
        frame.Buffer.Advance(message.Length);
        frame.Messages++;
        frame.HasTraffic |= isTraffic;
        return true;
    }

    /// <summary>One input handled; sends every frame once a frame has waited <see cref="MaxHeldInputs"/> inputs.</summary>
    public void InputHandled()
    {
        if (_waiting > 0 && ++_heldInputs >= MaxHeldInputs)
            FlushAll();
    }

    /// <summary>Sends every waiting frame (the loop is about to wait for input).</summary>
    public void FlushAll()
    {
        _heldInputs = 0;
        if (_waiting == 0)
            return;
        foreach (var (to, frame) in _frames)
            Flush(to, frame);
    }

    /// <summary>Sends <paramref name="to"/>'s frame now: before anything goes to that peer past the outbox.</summary>
    public void Flush(int to)
    {
        if (_frames.TryGetValue(to, out var frame))
            Flush(to, frame);
    }

    private void Flush(int to, Frame frame)
    {
        if (frame.Buffer.WrittenCount == 0)
            return;
        var sent = transport.Send(to, frame.Buffer.WrittenSpan);
        if (sent)
            Counted(frame.Messages);
        else if (frame.HasTraffic)
        {
            trafficLost(to);
        }

        frame.Reset();
        _waiting--;
    }

    private bool SendAlone(int to, ReadOnlySpan<byte> message)
    {
        var sent = transport.Send(to, message);
        if (sent)
            Counted(1);
        return sent;
    }

    private static void Counted(int messages)
    {
        Telemetry.QuorumFrames.Add(1);
        Telemetry.QuorumMessages.Add(messages);
    }

    private Frame FrameOf(int to)
    {
        if (!_frames.TryGetValue(to, out var frame))
            _frames.Add(to, frame = new Frame());
        return frame;
    }

    private sealed class Frame
    {
        public ArrayBufferWriter<byte> Buffer { get; } = new(4096);
        public int Messages { get; set; }
        public bool HasTraffic { get; set; }

        public void Reset()
        {
            Buffer.ResetWrittenCount();
            Messages = 0;
            HasTraffic = false;
        }
    }
}
