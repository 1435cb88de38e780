using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Zk.Bench.Load;

namespace Zk.Bench.Wire;

/// <summary>
/// One client connection (one session) keeping K requests in flight, as a closed loop on one task: it sends K
/// requests, and every time replies arrive it sends as many new ones in one write. Replies come back in request order
/// (ZooKeeper answers a session's requests in order), so each reply's xid must be the next expected one; a mismatch
/// is counted, not ignored. Latency is from just before the write that carried a request to the read that completed
/// its reply. Nothing allocates per request: frames are pre-encoded and only the xid is patched.
/// </summary>
internal sealed class WireConnection : IDisposable
{
    /// <summary>Room for K replies of ~1.1 KB; a bigger frame grows the buffer.</summary>
    private const int ReceiveBufferBytes = 256 * 1024;

    /// <summary>No reply for this long fails the run: a server that stops answering must not hang the bench.</summary>
    private static readonly TimeSpan ReceiveTimeout = TimeSpan.FromSeconds(10);

    private readonly Socket _socket;
    private readonly WireFrames _frames;
    private readonly int _inflight;
    private readonly long[] _sentAt;
    private readonly int _mask;
    private readonly byte[] _send;
    private byte[] _receive = new byte[ReceiveBufferBytes];
    private int _received;
    private int _nextXid = 1;
    private int _expectedXid = 1;
    private XorShift32 _random;

    private WireConnection(Socket socket, WireFrames frames, int inflight, int seed)
    {
        _socket = socket;
        _frames = frames;
        _inflight = inflight;
        var slots = (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Max(2, inflight * 2));
        _sentAt = new long[slots];
        _mask = slots - 1;
        _send = new byte[Math.Max(inflight * frames.MaxRequestBytes, 64 * 1024)];
        _random = new XorShift32(seed);
    }

    public long Mismatches { get; private set; }

    public long Errors { get; private set; }

    /// <summary>Opens a session; throws if the server refuses it or does not answer in time.</summary>
    /// <remarks>
    /// Synchronous on purpose, like everything here: once .NET has done an async operation on a socket it keeps it
    /// non-blocking and emulates blocking calls with a spinning wait, which costs the client a core on this machine.
    /// </remarks>
    public static WireConnection Open(IPEndPoint target, WireFrames frames, int inflight, int seed)
    {
        var socket = new Socket(target.AddressFamily, SocketType.Stream, ProtocolType.Tcp)
        {
            NoDelay = true,
            ReceiveTimeout = (int)ReceiveTimeout.TotalMilliseconds,
            SendTimeout = (int)ReceiveTimeout.TotalMilliseconds,
        };
        try
        {
            socket.Connect(target);
            var connection = new WireConnection(socket, frames, inflight, seed);
            socket.Send(WireFrames.Connect());
            var reply = connection.ReadFrame();
            // ConnectResponse: protocolVersion (4), timeout (4), ...: timeout 0 is a refusal.
            if (reply.Length < 8 || BinaryPrimitives.ReadInt32BigEndian(reply.AsSpan(4)) <= 0)
            {
                throw new IOException($"{target} refused the session");
            }

            return connection;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Sends <paramref name="requests"/> with up to K in flight and waits for every reply; replies with an error
    /// code other than 0 or one of <paramref name="allowed"/> throw (setup: creating the keys, NodeExists allowed).
    /// </summary>
    public void Execute(IReadOnlyList<byte[]> requests, int allowed)
    {
        var next = 0;
        var outstanding = 0;
        while (next < requests.Count || outstanding > 0)
        {
            var length = 0;
            while (next < requests.Count && outstanding < _inflight)
            {
                length = Append(requests[next++], length);
                outstanding++;
            }

            if (length > 0)
            {
                SendAll(length);
            }

            var reply = ReadFrame();
            var err = BinaryPrimitives.ReadInt32BigEndian(reply.AsSpan(WireFrames.ReplyErrOffset - 4));
            if (err != 0 && err != allowed)
            {
                throw new IOException($"setup request failed with error {err}");
            }

            _expectedXid++;
            outstanding--;
        }
    }

    /// <summary>
    /// Runs the load until <paramref name="deadline"/> (a Stopwatch timestamp), then stops sending and drains what is
    /// in flight. Replies received before the deadline are recorded in <paramref name="latencies"/>; the return value
    /// counts every request of the run, drained ones included (the server did that work). Blocking socket calls on
    /// the caller's (dedicated) thread: a thread asleep in recv costs no CPU, where async continuations on the thread
    /// pool spin between replies and take a core from the server on a 2-core machine. Every receive is bounded by
    /// the socket's receive timeout.
    /// </summary>
    public long Run(long deadline, int writePercent, LatencyHistogram latencies)
    {
        long completed = 0;
        var outstanding = _inflight;
        SendAll(AppendLoad(_inflight, writePercent));
        var draining = false;
        while (outstanding > 0)
        {
            var read = _socket.Receive(_receive, _received, _receive.Length - _received, SocketFlags.None);
            if (read == 0)
            {
                throw new IOException("server closed the connection");
            }

            _received += read;
            var now = Stopwatch.GetTimestamp();
            var replies = TakeReplies(now, draining ? null : latencies);
            completed += replies;
            outstanding -= replies;
            draining |= now >= deadline;
            if (!draining && replies > 0)
            {
                SendAll(AppendLoad(replies, writePercent));
                outstanding += replies;
            }
        }

        return completed;
    }

    public void Dispose()
    {
        try
        {
            var close = WireFrames.CloseSession();
            WireFrames.PatchXid(close, _nextXid++);
            _socket.Send(close);
            _socket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // The server went first; nothing to close.
        }

        _socket.Dispose();
    }

    /// <summary>Counts and times the whole reply frames at the front of the receive buffer, then keeps the partial rest.</summary>
    private int TakeReplies(long now, LatencyHistogram? latencies)
    {
        var replies = 0;
        var at = 0;
        while (_received - at >= 4)
        {
            var length = BinaryPrimitives.ReadInt32BigEndian(_receive.AsSpan(at));
            if (_received - at - 4 < length)
            {
                break;
            }

            var frame = _receive.AsSpan(at + 4, length);
            var xid = BinaryPrimitives.ReadInt32BigEndian(frame);
            at += 4 + length;
            if (xid < 0)
            {
                continue; // a watch notification or ping reply: not a request of ours
            }

            if (xid != _expectedXid)
            {
                Mismatches++;
            }

            if (BinaryPrimitives.ReadInt32BigEndian(frame[(WireFrames.ReplyErrOffset - 4)..]) != 0)
            {
                Errors++;
            }

            latencies?.Record(now - _sentAt[xid & _mask]);
            _expectedXid = xid + 1;
            replies++;
        }

        Compact(at);
        return replies;
    }

    private void Compact(int consumed)
    {
        _received -= consumed;
        if (_received > 0)
        {
            Buffer.BlockCopy(_receive, consumed, _receive, 0, _received);
        }

        if (_received == _receive.Length)
        {
            Array.Resize(ref _receive, _receive.Length * 2); // a reply larger than the buffer
        }
    }

    private int AppendLoad(int count, int writePercent)
    {
        var length = 0;
        var now = Stopwatch.GetTimestamp();
        for (var i = 0; i < count; i++)
        {
            var next = _random.Next();
            var key = (int)(next % WireFrames.KeyCount);
            var frame = (next >> 16) % 100 < (uint)writePercent ? _frames.Sets[key] : _frames.Gets[key];
            _sentAt[_nextXid & _mask] = now;
            length = Append(frame, length);
        }

        return length;
    }

    private int Append(byte[] frame, int length)
    {
        frame.CopyTo(_send, length);
        WireFrames.PatchXid(_send.AsSpan(length), _nextXid++);
        return length + frame.Length;
    }

    private void SendAll(int length)
    {
        var sent = 0;
        while (sent < length)
        {
            sent += _socket.Send(_send, sent, length - sent, SocketFlags.None);
        }
    }

    /// <summary>One whole frame's body (setup and handshake only; allocates).</summary>
    private byte[] ReadFrame()
    {
        while (true)
        {
            if (_received >= 4)
            {
                var length = BinaryPrimitives.ReadInt32BigEndian(_receive);
                if (_received - 4 >= length)
                {
                    var body = _receive.AsSpan(4, length).ToArray();
                    Compact(4 + length);
                    return body;
                }
            }

            var read = _socket.Receive(_receive, _received, _receive.Length - _received, SocketFlags.None);
            if (read == 0)
            {
                throw new IOException("server closed the connection");
            }

            _received += read;
        }
    }
}
