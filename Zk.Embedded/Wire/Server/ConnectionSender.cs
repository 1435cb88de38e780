using System.Net.Sockets;
using System.Threading.Channels;
using Zk.Embedded.Api;
using Zk.Embedded.Processing;
using Zk.Embedded.Wire.Jute;

namespace Zk.Embedded.Wire.Server;

/// <summary>
/// A connection's outgoing side. Replies and events are queued in the session's order by whichever thread delivers
/// them, and serialized and written by one send loop per connection that awaits the socket: a client that does not
/// read holds back its own loop only, never a shared thread. Replies wait here unserialized (a getData reply holds
/// the node's data array, which the tree shares), so a client that does not read costs one send batch of bytes and
/// its queued replies; the read loop bounds those by not reading past the outstanding limit (<see cref="ClientPort.ShouldThrottle"/>).
/// </summary>
/// <remarks>
/// "Outstanding" is a request read whose reply has not reached the socket yet. ZooKeeper counts until the reply is
/// queued (<c>ServerCnxn.decrOutstandingAndCheckThrottle</c>) because its queue holds serialized bytes; ours holds
/// replies, so a reply counts until it is written.
/// </remarks>
internal sealed class ConnectionSender
{
    /// <summary>
    /// Frames are serialized into one buffer until it holds this much, then go out in one send: with 64 requests in
    /// flight the replies of one read share a syscall, and a slow client costs at most this plus one frame in bytes.
    /// </summary>
    private const int BatchBytes = 64 * 1024;

    /// <summary>
    /// How long a connection that is to close (its session ended, or a refused connect) may take to write what is
    /// queued; then it closes anyway, so a client that stopped reading cannot keep it.
    /// </summary>
    private static readonly TimeSpan CloseGrace = TimeSpan.FromSeconds(1);

    private readonly Stream _stream;
    private readonly ClientPort _port;
    private readonly Action _close;
    private readonly TimeProvider _time;
    private readonly object _gate = new();
    private readonly Queue<OutFrame> _queue = new();
    private readonly Channel<bool> _wake = NewSignal();
    private readonly Channel<bool> _progress = NewSignal();

    /// <summary>Held while frames are serialized and written, by the send loop or by <see cref="SendNowAsync"/>: one writer at a time keeps them in order.</summary>
    private readonly SemaphoreSlim _sending = new(1, 1);
    private readonly JuteFrameBuffer _buffer = new();
    private int _outstanding;
    private bool _closeWhenSent;
    private bool _closed;
    private ITimer? _closeDeadline;

    public ConnectionSender(Stream stream, ClientPort port, TimeProvider time, Action close)
    {
        _stream = stream;
        _port = port;
        _time = time;
        _close = close;
    }

    /// <summary>Requests read whose replies have not been written yet.</summary>
    public int Outstanding => Volatile.Read(ref _outstanding);

    /// <summary>Frames queued and not yet serialized (replies, events, a connect response).</summary>
    public int Queued
    {
        get
        {
            lock (_gate)
            {
                return _queue.Count;
            }
        }
    }

    /// <summary>True while the read loop should read no more: ZooKeeper's global rule on outstanding requests.</summary>
    public bool ShouldThrottle => _port.ShouldThrottle(Outstanding);

    /// <summary>A request was read: it is outstanding until its reply is written.</summary>
    public void RequestArrived()
    {
        lock (_gate)
        {
            if (!_closed)
            {
                _outstanding++;
                _port.AddOutstanding(1);
            }
        }
    }

    /// <summary>Queues a request's reply; the send loop serializes it. The reply's tree state is dropped here: the header needs only its zxid.</summary>
    public void EnqueueReply(int xid, OpCode opCode, in Reply reply, IReadOnlyList<MultiOp>? multiOps) =>
        Enqueue(new OutFrame(xid, opCode, reply with { State = null! }, multiOps, null, null));

    public void EnqueueEvent(WatchedEvent watchedEvent) => Enqueue(new OutFrame(Xids.Notification, default, default, null, watchedEvent, null));

    public void EnqueueConnectResponse(in ConnectResponse response) => Enqueue(new OutFrame(0, default, default, null, null, response));

    private void Enqueue(in OutFrame frame)
    {
        lock (_gate)
        {
            if (!_closed)
            {
                _queue.Enqueue(frame);
            }
        }
    }

    /// <summary>Wakes the send loop to write what is queued. Cheap; call once after queueing a group of frames.</summary>
    public void Signal() => _wake.Writer.TryWrite(true);

    /// <summary>Waits until a send completes (some replies reached the socket) or the connection closes.</summary>
    public async ValueTask WaitForProgressAsync(CancellationToken cancellationToken)
    {
        Signal();
        if (await _progress.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            _progress.Reader.TryRead(out _);
        }
    }

    /// <summary>
    /// Closes the connection once what is queued has been written, or after <see cref="CloseGrace"/> at the latest
    /// (a blocked send does not keep it open).
    /// </summary>
    public void CloseWhenSent()
    {
        lock (_gate)
        {
            if (_closed || _closeWhenSent)
            {
                return;
            }

            _closeWhenSent = true;
            _closeDeadline = _time.CreateTimer(static close => ((Action)close!)(), _close, CloseGrace, Timeout.InfiniteTimeSpan);
        }

        Signal();
    }

    /// <summary>The connection closed: nothing more is queued or sent, and its outstanding requests stop counting.</summary>
    public void Closed()
    {
        lock (_gate)
        {
            if (_closed)
            {
                return;
            }

            _closed = true;
            _port.AddOutstanding(-_outstanding);
            _outstanding = 0;
            _queue.Clear();
            _closeDeadline?.Dispose();
        }

        _wake.Writer.TryComplete();
        _progress.Writer.TryComplete();
    }

    /// <summary>The send loop: one per connection, started with it; ends when the connection closes.</summary>
    public async Task RunAsync()
    {
        try
        {
            while (await _wake.Reader.WaitToReadAsync().ConfigureAwait(false))
            {
                _wake.Reader.TryRead(out _);
                await _sending.WaitAsync().ConfigureAwait(false);
                bool close;
                try
                {
                    close = await SendQueuedAsync().ConfigureAwait(false);
                }
                finally
                {
                    _sending.Release();
                }

                if (close)
                {
                    break;
                }
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or SocketException or OperationCanceledException)
        {
            // The socket failed or was closed under a blocked send: the connection is over either way.
        }
        finally
        {
            _close();
            // A SendNowAsync under way fails on the closed socket and lets go; then the buffer goes back to the pool.
            await _sending.WaitAsync().ConfigureAwait(false);
            _buffer.Dispose();
        }
    }

    /// <summary>
    /// Sends what is queued from the caller (the read loop, after answering reads itself) when no send is under way,
    /// instead of waking the send loop: a hop per read batch cost about a quarter of pipelined get throughput. It
    /// awaits the socket as the send loop would, which holds back only this connection's reading. When the send loop
    /// is sending, it is woken to take these frames too.
    /// </summary>
    public async ValueTask SendNowAsync()
    {
        if (!_sending.Wait(0))
        {
            Signal();
            return;
        }

        try
        {
            if (await SendQueuedAsync().ConfigureAwait(false))
            {
                // Closing is the send loop's: it ends and closes the connection.
                Signal();
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or SocketException or OperationCanceledException)
        {
            _close();
        }
        finally
        {
            _sending.Release();
        }
    }

    /// <summary>With <see cref="_sending"/> held: serializes and writes until nothing is queued; true when the connection is to close.</summary>
    private async ValueTask<bool> SendQueuedAsync()
    {
        bool close;
        while (Serialize(_buffer, out var replies, out close))
        {
            await _stream.WriteAsync(_buffer.WrittenMemory).ConfigureAwait(false);
            _buffer.Clear();
            Sent(replies);
        }

        return close;
    }

    /// <summary>Serializes queued frames, up to a batch; true when there is something to send.</summary>
    private bool Serialize(JuteFrameBuffer buffer, out int replies, out bool close)
    {
        replies = 0;
        close = false;
        while (buffer.WrittenCount < BatchBytes)
        {
            OutFrame frame;
            lock (_gate)
            {
                if (!_queue.TryDequeue(out frame))
                {
                    close = _closeWhenSent || _closed;
                    break;
                }
            }

            buffer.BeginFrame();
            var writer = new JuteWriter(buffer);
            frame.Write(ref writer);
            buffer.EndFrame();
            replies += frame.IsReply ? 1 : 0;
        }

        return buffer.WrittenCount > 0;
    }

    private void Sent(int replies)
    {
        lock (_gate)
        {
            if (_closed)
            {
                return;
            }

            _outstanding -= replies;
            _port.AddOutstanding(-replies);
        }

        _progress.Writer.TryWrite(true);
    }

    private static Channel<bool> NewSignal() =>
        Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });

    /// <summary>One frame to send: a reply (with its opcode), a watch event, or the connect response.</summary>
    private readonly record struct OutFrame(int Xid, OpCode OpCode, Reply Reply, IReadOnlyList<MultiOp>? MultiOps, WatchedEvent? Event, ConnectResponse? Connect)
    {
        public bool IsReply => Event is null && Connect is null;

        public void Write(ref JuteWriter writer)
        {
            if (Event is { } e)
            {
                new ReplyHeader(Xids.Notification, e.Zxid, ZkErrorCode.Ok).Write(ref writer);
                new WatcherEvent(e.Type, e.State, e.Path).Write(ref writer);
            }
            else if (Connect is { } connect)
            {
                connect.Write(ref writer);
            }
            else
            {
                WireResponses.Write(ref writer, Xid, OpCode, Reply, MultiOps);
            }
        }
    }
}
