using Microsoft.Extensions.Logging;
using NetMQ;
using NetMQ.Sockets;
using Zk.Embedded.Transport;

namespace Zk.Transport.NetMQ;

/// <summary>
/// This peer's connection to one other member: a DEALER connected to that member's ROUTER, which carries everything
/// this peer sends it (so messages of the pair keep their order), and a bounded queue in front of it.
/// <para>Lifecycle, all on the poller thread but <see cref="TryEnqueue"/>: Closed → (Open) Handshaking → (the
/// member's proof verified) Up → Closed, reopened after a backoff. It drops when the member's proof fails, when no
/// PONG came for HeartbeatTimeout, or when the member's own connection to us ends (<see cref="PeerGone"/>: prompt
/// when its process exits). No NetMQ socket monitor: NetMQ writes monitor events from its I/O thread without a
/// lock against closing the monitored socket, and an exception there ends the process (netmq issue #1143). A fresh
/// socket per connection keeps the handshake first on the wire: NetMQ's own reconnect would replay nothing of ours.</para>
/// </summary>
internal sealed class OutboundLink(PeerContext context, int peer, string endpoint)
{
    private enum State { Closed, Handshaking, Up }

    private readonly Lock _gate = new();
    private readonly Queue<byte[]> _queue = new();   // DATA frames ([4][message]) not yet handed to the socket
    private long _bytes;
    private bool _flushPending;                      // a wake is queued or the socket is full: senders need not wake
    private volatile State _state;
    private DealerSocket? _dealer;
    private byte[] _nonce = [];
    private bool _blocked;
    private long _openedAt;                          // the handshake must be done within HandshakeTimeout of this
    private long _lastHeard;                         // the last CHALLENGE or PONG
    private long _lastPing;
    private long _reopenAt;
    private int _failures;

    public int Peer => peer;

    /// <summary>Copies <paramref name="message"/> into the queue (any thread); false when not Up or full (tail drop).</summary>
    public bool TryEnqueue(ReadOnlySpan<byte> message)
    {
        if (_state != State.Up)
            return false;
        lock (_gate)
        {
            // One lock per send; the copy is made inside it only once the message is admitted (a full queue allocates nothing).
            if (_state != State.Up || !context.Limits.Admits(_queue.Count, _bytes, message.Length))
                return false;
            var frame = new byte[message.Length + 1];   // NetMQ keeps this array until written: it cannot be pooled
            frame[0] = Handshake.Data;
            message.CopyTo(frame.AsSpan(1));
            _queue.Enqueue(frame);
            _bytes += message.Length;
            if (!_flushPending)
            {
                _flushPending = true;
                context.Wake(peer);   // under the gate, so Close (which takes it) cannot dispose the queue meanwhile
            }
            return true;
        }
    }

    /// <summary>Hands queued frames to the socket until it is full; then waits for SendReady.</summary>
    public void Flush()
    {
        while (true)
        {
            byte[] head;
            lock (_gate)
            {
                if (_state != State.Up || _queue.Count == 0)
                {
                    _flushPending = false;
                    return;
                }
                head = _queue.Peek();
            }
            var dealer = _dealer!;
            if (!dealer.TrySendFrame(TimeSpan.Zero, head))
            {
                if (!_blocked)
                {
                    _blocked = true;
                    dealer.SendReady += OnSendReady;
                }
                return;
            }
            lock (_gate)
            {
                _queue.Dequeue();
                _bytes -= head.Length - 1;
            }
        }
    }

    private void OnSendReady(object? sender, NetMQSocketEventArgs e)
    {
        _blocked = false;
        _dealer!.SendReady -= OnSendReady;   // polling for writability only while blocked, or the poller spins
        Flush();
    }

    public void Open()
    {
        var o = context.Options;
        var dealer = new DealerSocket();
        dealer.Options.Linger = TimeSpan.Zero;
        dealer.Options.SendHighWatermark = o.SocketHighWatermark;
        dealer.Options.ReceiveHighWatermark = 4;
        dealer.Options.MaxMsgSize = Handshake.MaxControlBytes;   // all a member ever sends back is a CHALLENGE
        context.Keepalive(dealer);
        dealer.Options.ReconnectInterval = o.ReconnectInterval;
        dealer.Options.ReconnectIntervalMax = o.ReconnectIntervalMax;
        dealer.Options.IPv4Only = !Endpoints.IsIPv6(endpoint);
        dealer.ReceiveReady += OnReceive;
        context.Poller.Add(dealer);
        _dealer = dealer;
        _openedAt = Environment.TickCount64;
        _nonce = Handshake.NewNonce();
        dealer.Connect(endpoint);
        dealer.TrySendFrame(TimeSpan.Zero, Handshake.WriteHello(context.LocalId, peer, _nonce));   // waits in the pipe for the connection
        _state = State.Handshaking;
    }

    private void OnReceive(object? sender, NetMQSocketEventArgs e)
    {
        var msg = new Msg();
        msg.InitEmpty();
        try
        {
            while (_dealer is { } dealer && dealer.TryReceive(ref msg, TimeSpan.Zero))
            {
                if (_state == State.Up && msg.Size == 1 && msg.Slice()[0] == Handshake.Pong && !msg.HasMore)
                {
                    _lastHeard = Environment.TickCount64;
                    continue;
                }
                if (_state != State.Handshaking || msg.HasMore)
                {
                    Telemetry.Rejected.Add(1);   // a member answers one CHALLENGE per connection, then only PONGs
                    continue;
                }
                if (Handshake.Answer(msg.Slice(), context.Options.SharedSecret, context.LocalId, peer, _nonce) is not { } auth)
                {
                    Close();
                    var wait = Reopen(++_failures);
                    Log.PeerProofRefused(context.Logger, context.LocalId, peer, endpoint, wait);
                    return;
                }
                dealer.TrySendFrame(TimeSpan.Zero, auth);
                _lastHeard = _lastPing = Environment.TickCount64;
                lock (_gate)
                    _state = State.Up;
                _failures = 0;
                Log.PeerConnected(context.Logger, context.LocalId, peer, endpoint);
                context.Notice(TransportEvent.Connected(peer));
            }
        }
        finally
        {
            msg.Close();
        }
    }

    /// <summary>The member's own connection to this peer ended (poller thread): take this direction down too.</summary>
    public void PeerGone()
    {
        if (_state == State.Up)
            Drop();
    }

    /// <summary>The connection is taken for lost (poller thread): tell the driver if it was up, and reconnect later.</summary>
    private void Drop()
    {
        var wasUp = _state == State.Up;
        Close();
        _failures = wasUp ? 0 : _failures + 1;
        var wait = Reopen(_failures);
        if (wasUp)
        {
            Log.PeerDisconnected(context.Logger, context.LocalId, peer, wait);
            context.Notice(TransportEvent.Disconnected(peer));
        }
    }

    /// <summary>Housekeeping (poller thread): reopen when due, ping, and give up on a silent member or a slow handshake.</summary>
    public void Tick(long now)
    {
        var o = context.Options;
        switch (_state)
        {
            case State.Closed when _dealer is null && now >= _reopenAt:
                Open();
                break;
            case State.Up when now - _lastHeard > (long)o.HeartbeatTimeout.TotalMilliseconds:
                Drop();
                break;
            case State.Up when now - _lastPing >= (long)o.HeartbeatInterval.TotalMilliseconds:
                _lastPing = now;
                _dealer!.TrySendFrame(TimeSpan.Zero, PingFrame);   // a full socket skips one: the member is slow, PONGs will tell
                break;
            case State.Handshaking when now - _openedAt > (long)o.HandshakeTimeout.TotalMilliseconds:
                Close();
                var wait = Reopen(++_failures);
                if (_failures == 1)   // once per outage: a member that is down times out every round
                    Log.HandshakeTimedOut(context.Logger, context.LocalId, peer, endpoint, wait);
                break;
        }
    }

    private static readonly byte[] PingFrame = [Handshake.Ping];

    /// <summary>Schedules the next Open after ReconnectInterval doubled per failure, at most ReconnectIntervalMax; returns the wait in ms.</summary>
    private long Reopen(int failures)
    {
        var o = context.Options;
        var doubled = o.ReconnectInterval.TotalMilliseconds * Math.Pow(2, Math.Min(failures, 20));
        var wait = (long)Math.Min(doubled, o.ReconnectIntervalMax.TotalMilliseconds);
        _reopenAt = Environment.TickCount64 + wait;
        return wait;
    }

    /// <summary>Closes the socket and releases the queue: anything queued to this peer is lost, as the contract allows.</summary>
    public void Close()
    {
        lock (_gate)
        {
            _state = State.Closed;
            _queue.Clear();
            _bytes = 0;
            _flushPending = false;
        }
        if (_dealer is not { } dealer)
            return;
        if (_blocked)
            dealer.SendReady -= OnSendReady;
        _blocked = false;
        context.Poller.Remove(dealer);
        dealer.Dispose();
        _dealer = null;
    }
}
