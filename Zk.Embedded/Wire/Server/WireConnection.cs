using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Net;
using Microsoft.Extensions.Logging;
using PipelineRequest = Zk.Embedded.Processing.PipelineRequest;
using Zk.Embedded.Api;
using Zk.Embedded.InProcess;
using Zk.Embedded.Processing;
using Zk.Embedded.Sessions;
using Zk.Embedded.Tree;
using Zk.Embedded.Wire.Jute;

namespace Zk.Embedded.Wire.Server;

/// <summary>
/// One client connection on the client port (ZooKeeper's <c>NIOServerCnxn</c>): frames in, a connect first, then
/// requests; replies and watch events out, in the session's order (a <see cref="SessionOutbox"/> orders them and
/// this writes them). A bad frame closes this connection only.
/// </summary>
internal sealed class WireConnection : ISessionSink
{
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly PeerCore _peer;
    private readonly ClientPort _port;
    private readonly ConnectionSender _sender;
    /// <summary>Reads answered on the read loop since its last flush.</summary>
    private int _answeredOnLoop;
    private readonly CancellationTokenSource _closed = new();
    private ServerSession? _session;
    private SessionOutbox? _outbox;
    private readonly ITimer _sessionless;
    private IReadOnlyList<Id> _authIds;

    /// <summary>When the frame being handled was read (the read loop's; a request's latency starts there).</summary>
    private long _requestStarted;

    public WireConnection(Socket socket, PeerCore peer, ClientPort port)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: false);
        _peer = peer;
        _port = port;
        Stats = new RequestStats(striped: false, total: port.Stats);
        Remote = socket.RemoteEndPoint;
        // NIOServerCnxn: a connection starts with the ip id of its socket's address, whatever session it carries.
        _authIds = [new Id("ip", AddressOf(Remote))];
        _sender = new ConnectionSender(_stream, port, peer.Time, Close);
        // NIOServerCnxnFactory's connection expiry: a connection gets sessionlessCnxnTimeout from its accept to establish
        // a session. Armed here, before the port lists the connection, not when its read loop first runs on the pool:
        // a clock that moved on meanwhile (a test's fake one) would otherwise give the connection more time.
        _sessionless = peer.Time.CreateTimer(static c => ((WireConnection)c!).CloseIfSessionless(), this, peer.Options.SessionlessConnectionTimeout, Timeout.InfiniteTimeSpan);
    }

    public EndPoint? Remote { get; }

    /// <summary>This connection's counters and latencies (stat, cons; reset by crst); they count into the port's too.</summary>
    public RequestStats Stats { get; }

    public SessionId? SessionId => _session?.SessionId;

    /// <summary>
    /// The identities this connection has proved (ZooKeeper's <c>ServerCnxn.authInfo</c>): its ip id, then what addAuth
    /// added. They belong to the connection, not the session: a session re-attached elsewhere starts again from that
    /// connection's ip id, and its client re-sends its auth (as ZooKeeper's client does on every reconnect).
    /// </summary>
    internal IReadOnlyList<Id> AuthIds => Volatile.Read(ref _authIds);

    /// <summary>addAuth, handled as it arrives: requests read after it carry the new ids, requests before it do not.</summary>
    internal ZkErrorCode Authenticate(string scheme, byte[] auth)
    {
        var error = Authentication.Authenticate(scheme, auth, _peer.Options.SuperDigest, out var proved);
        // Only the read loop adds ids, so a plain write is enough; readers see either list whole.
        Volatile.Write(ref _authIds, AuthIdentities.With(_authIds, proved));
        return error;
    }

    /// <summary>Requests read whose replies have not been written, and frames queued to send (tests look at the bounds).</summary>
    internal (int Outstanding, int Queued) Backlog => (_sender.Outstanding, _sender.Queued);

    public async Task RunAsync(CancellationToken stopping)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stopping, _closed.Token);
        var reader = PipeReader.Create(_stream, new StreamPipeReaderOptions(bufferSize: 64 * 1024, leaveOpen: true));
        _ = _sender.RunAsync();
        try
        {
            var first = true;
            var head = new byte[4];
            while (!linked.IsCancellationRequested)
            {
                var result = await reader.ReadAsync(linked.Token).ConfigureAwait(false);
                var buffer = result.Buffer;
                _requestStarted = Stopwatch.GetTimestamp();
                var received = 0;
                if (first && buffer.Length >= 4)
                {
                    first = false;
                    buffer.Slice(0, 4).CopyTo(head);
                    if (FourLetterWords.TryParse(head, out var word))
                    {
                        await AnswerFourLetterWordAsync(word).ConfigureAwait(false);
                        return;
                    }
                }

                while (JuteFrame.TryReadFrame(buffer, _peer.Options.MaxDataBytes, out var frame, out var tooLarge) || tooLarge)
                {
                    if (tooLarge)
                    {
                        // NIOServerCnxn.readLength: a length over jute.maxbuffer itself closes ("Len error").
                        Log.FrameTooLarge(_peer.Logger, Remote, _peer.Options.MaxDataBytes);
                        CountRead(received);
                        return;
                    }

                    var bytes = frame.IsSingleSegment ? frame.First : frame.ToArray();
                    buffer = buffer.Slice(frame.End);
                    received++;
                    // Read no further while this connection is throttled (the frame stays in the pipe's buffer):
                    // the client's sends then back up in TCP, and what it costs here stays bounded.
                    while (_sender.ShouldThrottle && !linked.IsCancellationRequested)
                    {
                        await _sender.WaitForProgressAsync(linked.Token).ConfigureAwait(false);
                    }

                    if (_session is null)
                    {
                        if (!await ConnectAsync(bytes).ConfigureAwait(false))
                        {
                            CountRead(received);
                            return;
                        }
                    }
                    else if (!HandleRequest(bytes.Span))
                    {
                        CountRead(received);
                        return;
                    }
                }

                // Replies answered on this loop go out together: one send for every request that arrived in this
                // read, not one each (with 64 in flight, sends were a third of a read's CPU). Replies from the
                // pipeline go out from its delivery: nothing to do here when no read was answered on the loop.
                CountRead(received);
                if (_answeredOnLoop > 0)
                {
                    _answeredOnLoop = 0;
                    await _sender.SendNowAsync().ConfigureAwait(false);
                }
                reader.AdvanceTo(buffer.Start, buffer.End);
                if (result.IsCompleted)
                {
                    return;
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
        {
            Log.ConnectionFailed(_peer.Logger, e, Remote);
        }
        finally
        {
            await reader.CompleteAsync().ConfigureAwait(false);
            // What is queued (a refusal, the replies before a bad frame) still goes out, within a grace.
            _sender.CloseWhenSent();
        }
    }

    /// <summary>Counts the requests of one read and the replies answered on the loop for them (also when the read ends the connection).</summary>
    private void CountRead(int received) => Stats.CountBatch(received, _answeredOnLoop, Stopwatch.GetTimestamp() - _requestStarted);

    /// <summary>Closes the socket. The session lives on until it expires or another connection attaches it.</summary>
    public void Close()
    {
        if (_closed.IsCancellationRequested)
        {
            return;
        }

        _closed.Cancel();
        _sessionless.Dispose();
        _sender.Closed();
        if (_session is { } session && ReferenceEquals(session.Sink, this))
        {
            session.Sink = null;
        }

        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
            // Already gone.
        }

        _socket.Dispose();
        _port.Forget(this);
    }

    private void CloseIfSessionless()
    {
        if (_session is null && !_closed.IsCancellationRequested)
        {
            Log.SessionlessConnectionClosed(_peer.Logger, Remote, _peer.Options.SessionlessConnectionTimeout.TotalMilliseconds);
            Close();
        }
    }

    private async Task AnswerFourLetterWordAsync(string word)
    {
        var answer = FourLetterWords.Answer(word, _port.Whitelist, _port.Facts(), out var effect);
        switch (effect)
        {
            case FourLetterWordEffect.ResetServerStats:
                _port.Stats.Reset();
                break;
            case FourLetterWordEffect.ResetConnectionStats:
                _port.ResetConnectionStats();
                break;
        }

        var bytes = System.Text.Encoding.UTF8.GetBytes(answer);
        await _stream.WriteAsync(bytes).ConfigureAwait(false);
        await _stream.FlushAsync().ConfigureAwait(false);
    }

    // ---- connect ----

    private async Task<bool> ConnectAsync(ReadOnlyMemory<byte> frame)
    {
        var reader = new JuteReader(frame.Span, _peer.Options.MaxDataBytes);
        if (!ConnectRequest.TryRead(ref reader, out var request))
        {
            Log.BadFrame(_peer.Logger, "connect request", Remote);
            return false;
        }

        var (sessionId, lastZxidSeen) = (new SessionId(request.SessionId), new Zxid(request.LastZxidSeen)); // the jute record's longs
        if (_peer.Pipeline.NotServing is { } notServing)
        {
            // ZooKeeper closes a connection its server is not running for ("ZooKeeperServer not running"): the
            // client tries another server.
            Log.SessionRefused(_peer.Logger, sessionId, Remote, notServing);
            return false;
        }

        var state = _peer.Pipeline.State;
        if (lastZxidSeen > state.Zxid)
        {
            // ZooKeeperServer.processConnectRequest: a client must never go back in time.
            var reason = $"client has seen zxid {lastZxidSeen}, ours is {state.Zxid}";
            Log.SessionRefused(_peer.Logger, sessionId, Remote, reason);
            return false;
        }

        var timeout = _peer.NegotiateTimeout(TimeSpan.FromMilliseconds(request.TimeoutMs));
        if (sessionId != default)
        {
            ServerSession? existing;
            try
            {
                existing = await _peer.FindForReattachAsync(sessionId, request.Password ?? [], lastZxidSeen, _closed.Token).ConfigureAwait(false);
            }
            catch (ZkException e) when (e.Code == ZkErrorCode.ConnectionLoss)
            {
                Log.SessionRefused(_peer.Logger, sessionId, Remote, e.Message);
                return false;
            }
            catch (OperationCanceledException) when (_closed.IsCancellationRequested)
            {
                return false;   // closed meanwhile
            }

            if (existing is null)
            {
                Log.SessionRefused(_peer.Logger, sessionId, Remote, "unknown or expired session, or wrong password");
                // Timeout 0 tells the client its session expired (ZooKeeperServer.finishSessionInit).
                WriteConnectResponse(new ConnectResponse(0, 0, 0, new byte[16], false), closeAfter: true);
                return false;
            }

            // An ensemble member answers once its leader knows the session is here (ZooKeeper's REVALIDATE): a write
            // the client sends at once must not find the leader still giving the session to the member it left.
            await _peer.ClaimAnsweredAsync(sessionId, _closed.Token).ConfigureAwait(false);
            if (_closed.IsCancellationRequested)
                return false;   // closed meanwhile: the session stays where it is
            if (_peer.Pipeline.NotServing is { } stopped)
            {
                Log.SessionRefused(_peer.Logger, sessionId, Remote, stopped);
                return false;
            }

            Bind(existing);
            _peer.Attach(existing, this);
            WriteConnectResponse(new ConnectResponse(0, existing.TimeoutMillis, existing.SessionId.Value, existing.Password, false), closeAfter: false);
            Log.SessionEstablished(_peer.Logger, existing.SessionId, Remote, existing.TimeoutMillis);
            return true;
        }

        // The session itself carries no ids: this connection's go with each request (AuthIds).
        var session = _peer.NewSession(timeout, []);
        Bind(session);
        var slot = _outbox!.BeginWrite();
        await _peer.Writes.SubmitAsync(new PendingWrite(session, new CreateSessionRequest(timeout), slot)).ConfigureAwait(false);
        var reply = await slot.AsValueTask().ConfigureAwait(false);
        if (reply.IsError)
        {
            _peer.Sessions.Remove(session.SessionId);
            return false;
        }

        _peer.Attach(session, this);
        WriteConnectResponse(new ConnectResponse(0, timeout, session.SessionId.Value, session.Password, false), closeAfter: false);
        Log.SessionEstablished(_peer.Logger, session.SessionId, Remote, timeout);
        return true;
    }

    private void Bind(ServerSession session)
    {
        _session = session;
        _sessionless.Dispose();
        _outbox = new SessionOutbox(DeliverEvent, EndSession, () => _peer.Pipeline.State, () => _peer.Pipeline.FiringState, _sender.Signal, strictOrder: true, logger: _peer.Logger);
    }

    private void WriteConnectResponse(in ConnectResponse response, bool closeAfter)
    {
        _sender.EnqueueConnectResponse(response);
        Stats.CountSent();
        _sender.Signal();
        if (closeAfter)
        {
            _sender.CloseWhenSent();
        }
    }

    private static string AddressOf(EndPoint? endPoint) => endPoint is IPEndPoint ip
        ? (ip.Address.IsIPv4MappedToIPv6 ? ip.Address.MapToIPv4() : ip.Address).ToString()
        : "127.0.0.1";

    // ---- requests ----

    /// <summary>Decodes and starts one request; false closes the connection (an undecodable frame).</summary>
    private bool HandleRequest(ReadOnlySpan<byte> frame)
    {
        var session = _session!;
        _peer.Sessions.Touch(session);
        var reader = new JuteReader(frame, _peer.Options.MaxDataBytes);
        if (!RequestHeader.TryRead(ref reader, out var header))
        {
            Log.BadFrame(_peer.Logger, "request header", Remote);
            return false;
        }

        _sender.RequestArrived();
        var body = reader.RemainingSpan;
        return WireRequests.Start(this, header, body);
    }

    /// <summary>Sends a request through the write pipeline; its reply is written in the session's order.</summary>
    internal void Submit(int xid, OpCode opCode, PipelineRequest request, IReadOnlyList<MultiOp>? multiOps = null)
    {
        Stats.Queued();
        var span = Telemetry.Source.HasListeners() ? Telemetry.StartWrite(SpanOp(opCode), _session!.SessionId, System.Diagnostics.ActivityKind.Server) : null;
        var reply = _outbox!.BeginWrite(new WireReply(_outbox, this, xid, opCode, _requestStarted, multiOps) { Span = span });
        var submitted = _peer.Writes.SubmitAsync(new PendingWrite(_session!, request, reply, AuthIds, xid));
        if (!submitted.IsCompletedSuccessfully)
        {
            _ = AwaitSubmissionAsync(submitted, reply, request);
        }
    }

    /// <summary>The op as the in-process session names it (Create → create, SetAcl → setAcl), only when a span is made.</summary>
    private static string SpanOp(OpCode opCode)
    {
        var name = opCode.ToString();
        return string.Concat(name[..1].ToLowerInvariant(), name.AsSpan(1));
    }

    private async Task AwaitSubmissionAsync(ValueTask submitted, WireReply reply, PipelineRequest request)
    {
        try
        {
            await submitted.ConfigureAwait(false);
        }
        catch (ZkException e)
        {
            var state = _peer.Pipeline.State;
            reply.Complete(new Reply(e.Code, request.ErrorPath, null, state.Zxid, state));
        }
    }

    /// <summary>Answers a read in the session's order (at once when nothing of the session is outstanding).</summary>
    internal void Read(int xid, OpCode opCode, Func<TreeState, ReadOutcome> execute, bool alwaysQueued = false)
    {
        var started = _requestStarted;
        var outbox = _outbox!;
        if (!alwaysQueued && outbox.IsIdle)
        {
            var state = _peer.Pipeline.State;
            var outcome = execute(state);
            if (outbox.IsIdle && outcome.Watch is null)
            {
                // Sent by the read loop once this read's frames are all handled (RunAsync).
                WriteReply(xid, opCode, outcome.Reply, null);
                _answeredOnLoop++;
                return;
            }

            Stats.Queued();
            outbox.EnqueueAnswered(Deferred(execute, xid, opCode, started), outcome);
            return;
        }

        Stats.Queued();
        outbox.EnqueueRead(Deferred(execute, xid, opCode, started));
    }

    private DeferredRead Deferred(Func<TreeState, ReadOutcome> execute, int xid, OpCode opCode, long started) =>
        new(execute, reply => WriteQueuedReply(xid, opCode, reply, null, started));

    internal PeerCore Peer => _peer;

    internal ServerSession Session => _session!;

    internal SessionOutbox Outbox => _outbox!;

    /// <summary>
    /// The session ended. Closed by this client: the close reply (queued right behind) closes the connection. Expired,
    /// or the peer stopping: close once what is queued has been written, or after a grace if the client does not read.
    /// </summary>
    private void EndSession(KeeperState state)
    {
        if (state != KeeperState.Closed)
        {
            _sender.CloseWhenSent();
        }
    }

    // ---- output ----

    /// <summary>
    /// Serializes the reply of a request that went through the outbox (counted by <see cref="RequestStats.Queued"/>)
    /// and counts it answered, with its latency from <paramref name="started"/>.
    /// </summary>
    internal void WriteQueuedReply(int xid, OpCode opCode, in Reply reply, IReadOnlyList<MultiOp>? multiOps, long started)
    {
        WriteReply(xid, opCode, reply, multiOps);
        Stats.Replied(started);
    }

    /// <summary>Queues a reply. Called in the session's order (the outbox's delivery loop, or a read answered at once).</summary>
    private void WriteReply(int xid, OpCode opCode, in Reply reply, IReadOnlyList<MultiOp>? multiOps)
    {
        _sender.EnqueueReply(xid, opCode, reply, multiOps);
        // ZooKeeper closes the connection after answering closeSession, a failed auth, and an unknown opcode.
        if (opCode == OpCode.CloseSession || (opCode == OpCode.Auth && reply.Error == ZkErrorCode.AuthFailed) ||
            (reply.Error == ZkErrorCode.Unimplemented && !Enum.IsDefined(opCode)))
        {
            _sender.CloseWhenSent();
        }
    }

    private void DeliverEvent(WatchedEvent watchedEvent, Watcher? only)
    {
        _sender.EnqueueEvent(watchedEvent);
        Stats.CountSent();
    }

    // ---- ISessionSink ----

    void ISessionSink.OnWatchEvent(WatchedEvent watchedEvent)
    {
        Telemetry.WatchEvents.Add(1);
        _outbox?.EnqueueEvent(watchedEvent, null);
    }

    void ISessionSink.OnSessionEnded(KeeperState state) => _outbox?.EnqueueEnd(state);

    void ISessionSink.OnDetached() => Close();
}
