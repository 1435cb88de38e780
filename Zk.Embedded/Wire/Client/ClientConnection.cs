using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Zk.Embedded.Api;
using Zk.Embedded.Wire.Jute;

namespace Zk.Embedded.Wire.Client;

/// <summary>What a <see cref="ClientConnection"/> reports to the session that owns it, from its reader loop.</summary>
internal interface IConnectionOwner
{
    Chroot Chroot { get; }

    int NextXid();

    void OnNotification(WatchedEvent watchedEvent);

    void OnReply(PendingCall call);

    void OnZxid(long zxid);
}

/// <summary>
/// One TCP connection to one server (the socket half of Java's <c>ClientCnxn.SendThread</c>): the connect handshake,
/// requests written in xid order with their calls queued in the same order, one reader loop that matches replies to
/// calls (FIFO) and passes notifications on, and pings when the connection has been quiet for half the read timeout.
/// Auth replies are matched on their own queue: a server answers them at once, ahead of pending replies.
/// </summary>
internal sealed class ClientConnection
{
    // ClientCnxn.SendThread: a ping at least every 10 s, however long the session timeout.
    private static readonly TimeSpan MaxPingInterval = TimeSpan.FromSeconds(10);
    private static readonly byte[] PingFrame = [0, 0, 0, 8, 0xff, 0xff, 0xff, 0xfe, 0, 0, 0, (byte)OpCode.Ping];

    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly PipeReader _input;
    private readonly TimeProvider _time;
    private readonly int _maxFrameBytes;
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly Lock _lock = new();
    private readonly Queue<PendingCall> _pending = new();
    private readonly Queue<PendingCall> _auths = new();
    private readonly CancellationTokenSource _stop = new();
    private bool _closed;
    private long _lastSend;
    private long _lastReceive;
    private string? _failure;

    private ClientConnection(Socket socket, string server, TimeProvider time, int maxFrameBytes)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _input = PipeReader.Create(_stream, new StreamPipeReaderOptions(leaveOpen: true));
        _time = time;
        _maxFrameBytes = maxFrameBytes;
        Server = server;
        _lastSend = _lastReceive = time.GetTimestamp();
    }

    public string Server { get; }

    /// <summary>Ends when the connection is gone; its result says why.</summary>
    public Task<string> Completion { get; private set; } = Task.FromResult("not started");

    /// <summary>Connects and sends <paramref name="request"/>; returns the connection (not yet reading) and the server's answer.</summary>
    public static async Task<(ClientConnection Connection, ConnectResponse Response)> OpenAsync(
        DnsEndPoint server, ConnectRequest request, TimeSpan timeout, int maxFrameBytes, TimeProvider time, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        ClientConnection? connection = null;
        try
        {
            await socket.ConnectAsync(server, deadline.Token).ConfigureAwait(false);
            connection = new ClientConnection(socket, $"{server.Host}:{server.Port}", time, maxFrameBytes);
            using (var frame = new JuteFrameBuffer(64))
            {
                frame.BeginFrame();
                Jute.Jute.Encode(request, frame);
                frame.EndFrame();
                await connection._stream.WriteAsync(frame.WrittenMemory, deadline.Token).ConfigureAwait(false);
            }

            var response = await connection.ReadConnectResponseAsync(deadline.Token).ConfigureAwait(false);
            return (connection, response);
        }
        catch
        {
            if (connection is not null)
            {
                connection.Abort("handshake failed");
            }
            else
            {
                socket.Dispose();
            }

            throw;
        }
    }

    /// <summary>Starts the reader loop and the pings.</summary>
    public void Start(IConnectionOwner owner, TimeSpan readTimeout) => Completion = RunAsync(owner, readTimeout);

    /// <summary>
    /// Sends a frame whose xid field is patched with the call's xid (a fresh one when the call has none). Returns false
    /// when the connection is already closed; once true, the call is answered by a reply or by the drain at close.
    /// </summary>
    public async ValueTask<bool> SendAsync(JuteFrameBuffer frame, PendingCall call, IConnectionOwner owner)
    {
        await _sendLock.WaitAsync().ConfigureAwait(false);
        try
        {
            lock (_lock)
            {
                if (_closed)
                {
                    return false;
                }

                if (call.Xid == 0)
                {
                    call.Xid = owner.NextXid();
                }

                // The xid is known only now, in send order; the frame was built before, so its xid field is patched in place.
                BinaryPrimitives.WriteInt32BigEndian(MemoryMarshal.AsMemory(frame.WrittenMemory).Span[JuteFrame.HeaderBytes..], call.Xid);
                (call.Op == OpCode.Auth ? _auths : _pending).Enqueue(call);
            }

            await WriteAsync(frame.WrittenMemory).ConfigureAwait(false);
            return true;
        }
        finally
        {
            _sendLock.Release();
        }
    }

    /// <summary>Closes the socket and hands back every call still waiting, for the session to fail.</summary>
    public List<PendingCall> Close(string reason)
    {
        Abort(reason);
        lock (_lock)
        {
            _closed = true;
            var waiting = new List<PendingCall>(_pending.Count + _auths.Count);
            waiting.AddRange(_pending);
            waiting.AddRange(_auths);
            _pending.Clear();
            _auths.Clear();
            return waiting;
        }
    }

    /// <summary>Drops the connection; the reader loop ends and <see cref="Completion"/> reports <paramref name="reason"/>.</summary>
    public void Abort(string reason)
    {
        Interlocked.CompareExchange(ref _failure, reason, null);
        lock (_lock)
        {
            _closed = true;
        }

        _stop.Cancel();
        _socket.Dispose();
    }

    private async Task WriteAsync(ReadOnlyMemory<byte> bytes)
    {
        try
        {
            await _stream.WriteAsync(bytes, _stop.Token).ConfigureAwait(false);
            Volatile.Write(ref _lastSend, _time.GetTimestamp());
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
            Abort($"write failed: {e.Message}");
        }
    }

    private async Task<ConnectResponse> ReadConnectResponseAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await _input.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            if (JuteFrame.TryReadFrame(buffer, _maxFrameBytes, out var frame, out var tooLarge))
            {
                var ok = Jute.Jute.TryDecode<ConnectResponse>(frame.IsSingleSegment ? frame.FirstSpan : frame.ToArray(), out var response);
                _input.AdvanceTo(frame.End);
                return ok ? response : throw new IOException("The server's connect response does not decode.");
            }

            if (tooLarge || result.IsCompleted)
            {
                throw new IOException(tooLarge ? "The server's connect response is larger than jute.maxbuffer." : "The server closed the connection before answering the connect request.");
            }

            _input.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    private async Task<string> RunAsync(IConnectionOwner owner, TimeSpan readTimeout)
    {
        var heartbeat = HeartbeatAsync(owner, readTimeout);
        try
        {
            await ReadLoopAsync(owner).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            Abort(e is OperationCanceledException ? "closed" : e.Message);
        }

        Abort("the server closed the connection");
        await heartbeat.ConfigureAwait(false);
        await _input.CompleteAsync().ConfigureAwait(false);
        return _failure ?? "closed";
    }

    private async Task ReadLoopAsync(IConnectionOwner owner)
    {
        while (true)
        {
            var result = await _input.ReadAsync(_stop.Token).ConfigureAwait(false);
            var buffer = result.Buffer;
            Volatile.Write(ref _lastReceive, _time.GetTimestamp());
            bool tooLarge;
            while (JuteFrame.TryReadFrame(buffer, _maxFrameBytes, out var frame, out tooLarge))
            {
                Handle(owner, frame);
                buffer = buffer.Slice(frame.End);
            }

            if (tooLarge)
            {
                throw new IOException($"A reply frame is larger than jute.maxbuffer ({_maxFrameBytes} bytes).");
            }

            _input.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted)
            {
                return;
            }
        }
    }

    private void Handle(IConnectionOwner owner, in ReadOnlySequence<byte> frame)
    {
        var reader = new JuteReader(frame.IsSingleSegment ? frame.FirstSpan : frame.ToArray(), _maxFrameBytes);
        if (!ReplyHeader.TryRead(ref reader, out var header))
        {
            throw new IOException("A reply header does not decode.");
        }

        switch (header.Xid)
        {
            case Xids.Ping:
                return;
            case Xids.Notification:
                if (!WatcherEvent.TryRead(ref reader, out var notification))
                {
                    throw new IOException("A watch notification does not decode.");
                }

                var path = notification.Path is null ? null : owner.Chroot.ToClient(notification.Path);
                owner.OnNotification(new WatchedEvent(notification.Type, notification.State, path) { Zxid = header.Zxid });
                return;
        }

        PendingCall? call;
        lock (_lock)
        {
            (header.Xid == Xids.Auth ? _auths : _pending).TryDequeue(out call);
        }

        if (call is null)
        {
            throw new IOException($"Nothing in the queue, but got xid {header.Xid}.");
        }

        if (call.Xid != header.Xid)
        {
            call.Fail(ZkErrorCode.ConnectionLoss);
            owner.OnReply(call);
            throw new IOException($"Xid out of order: got {header.Xid}, expected {call.Xid}.");
        }

        if (header.Zxid > 0)
        {
            owner.OnZxid(header.Zxid);
        }

        call.Error = header.Err;
        if (header.Err == ZkErrorCode.Ok && !call.TryReadBody(ref reader, owner.Chroot))
        {
            call.Fail(ZkErrorCode.MarshallingError);
        }

        owner.OnReply(call);
    }

    private async Task HeartbeatAsync(IConnectionOwner owner, TimeSpan readTimeout)
    {
        var pingAfter = readTimeout / 2 < MaxPingInterval ? readTimeout / 2 : MaxPingInterval;
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var now = _time.GetTimestamp();
                var idleReceive = _time.GetElapsedTime(Volatile.Read(ref _lastReceive), now);
                if (idleReceive >= readTimeout)
                {
                    Abort($"no reply for {idleReceive.TotalMilliseconds:F0} ms (read timeout {readTimeout.TotalMilliseconds:F0} ms)");
                    return;
                }

                var idleSend = _time.GetElapsedTime(Volatile.Read(ref _lastSend), now);
                if (idleSend >= pingAfter)
                {
                    await SendPingAsync().ConfigureAwait(false);
                    idleSend = TimeSpan.Zero;
                }

                var wait = pingAfter - idleSend < readTimeout - idleReceive ? pingAfter - idleSend : readTimeout - idleReceive;
                await Task.Delay(wait > TimeSpan.FromMilliseconds(1) ? wait : TimeSpan.FromMilliseconds(1), _time, _stop.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            // Closed.
        }
    }

    private async Task SendPingAsync()
    {
        await _sendLock.WaitAsync(_stop.Token).ConfigureAwait(false);
        try
        {
            await WriteAsync(PingFrame).ConfigureAwait(false);
        }
        finally
        {
            _sendLock.Release();
        }
    }
}
