using NetMQ;
using NetMQ.Sockets;

namespace Zk.Transport.NetMQ;

/// <summary>
/// The quorum port: a ROUTER every other member's DEALER connects to. It answers HELLO with a CHALLENGE, and
/// delivers DATA only from a connection whose AUTH verified, under the member id it proved. Anything else (other
/// members' ids, unproven connections, frames not of ours) is counted and discarded unread. NetMQ itself closes a
/// connection that does not speak ZMTP or sends a frame over MaxMsgSize, before allocating it.
/// </summary>
internal sealed class InboundRouter
{
    /// <summary>Handshakes under way at once: members need one each; an intruder opening more only evicts its own.</summary>
    private const int MaxPending = 64;

    /// <summary>Messages read per ReceiveReady, so one busy connection cannot keep the poller from the rest.</summary>
    private const int ReadBatch = 1024;

    private readonly PeerContext _context;
    private readonly RouterSocket _router;
    private readonly Dictionary<ulong, int> _members = [];      // proven connection -> member id
    private readonly Dictionary<int, ulong> _connections = [];  // member id -> its one proven connection
    private readonly Dictionary<ulong, Pending> _pending = [];
    private long _sequence;
    private static readonly byte[] PongFrame = [Handshake.Pong];
    private long _lastRefusalLogged;
    private long _refusalsUnlogged;

    private readonly record struct Pending(int From, byte[] NonceA, byte[] NonceB, long Sequence);

    public InboundRouter(PeerContext context, string endpoint)
    {
        _context = context;
        _router = new RouterSocket();
        _router.Options.Linger = TimeSpan.Zero;
        _router.Options.MaxMsgSize = (long)context.Limits.MaxMessageBytes + 1;   // the kind byte
        _router.Options.ReceiveHighWatermark = context.Options.SocketHighWatermark;
        _router.Options.SendHighWatermark = 16;
        _router.Options.DisconnectMessage = [Handshake.Gone];   // a connection that ends must be forgotten: its routing id may be claimed again
        _router.Options.IPv4Only = !Endpoints.IsIPv6(endpoint);
        context.Keepalive(_router);
        try
        {
            Bind(_router, endpoint);
        }
        catch (NetMQException e)
        {
            _router.Dispose();
            throw new InvalidOperationException($"peer {context.LocalId} cannot listen on its quorum address {endpoint}: {e.Message}", e);
        }
        _router.ReceiveReady += OnReceive;
        context.Poller.Add(_router);
    }

    /// <summary>How long a bind retries an address in use: NetMQ closes a disposed socket's listener on its own I/O thread, a moment later.</summary>
    private static readonly TimeSpan BindRetry = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Binds, retrying an address in use for <see cref="BindRetry"/>: a peer restarted in the same process (or a
    /// process restarted at once) finds its quorum port still held by the listener it just disposed, which NetMQ
    /// closes asynchronously. A port another program holds still fails, a second later.
    /// </summary>
    private static void Bind(RouterSocket router, string endpoint)
    {
        var deadline = Environment.TickCount64 + (long)BindRetry.TotalMilliseconds;
        while (true)
        {
            try
            {
                router.Bind(endpoint);
                return;
            }
            catch (AddressAlreadyInUseException) when (Environment.TickCount64 < deadline)
            {
                Thread.Sleep(10);   // start-up only; the listener is gone within milliseconds if it was ours
            }
        }
    }

    public string Endpoint => _router.Options.LastEndpoint ?? "";

    private void OnReceive(object? sender, NetMQSocketEventArgs e)
    {
        var id = new Msg();
        var body = new Msg();
        id.InitEmpty();
        body.InitEmpty();
        try
        {
            for (var i = 0; i < ReadBatch && _router.TryReceive(ref id, TimeSpan.Zero); i++)
            {
                if (!id.HasMore || !_router.TryReceive(ref body, TimeSpan.Zero))
                    continue;   // a ROUTER always gives [routing id][frame...]
                if (body.HasMore)
                {
                    SkipRest(ref body);
                    Telemetry.Rejected.Add(1);   // ours are single frames
                    continue;
                }
                if (!TryKey(id.Slice(), out var key))
                    Telemetry.Rejected.Add(1);   // NetMQ assigns 5-byte ids; a long one is chosen by a stranger
                else
                    Dispatch(key, ref id, body.Slice());
            }
        }
        finally
        {
            id.Close();
            body.Close();
        }
    }

    private void Dispatch(ulong key, ref Msg id, ReadOnlySpan<byte> frame)
    {
        switch (frame.IsEmpty ? (byte)0 : frame[0])
        {
            case Handshake.Data when _members.TryGetValue(key, out var from):
                _context.Deliver(from, frame[1..]);
                break;
            case Handshake.Hello:
                OnHello(key, ref id, frame);
                break;
            case Handshake.Auth:
                OnAuth(key, frame);
                break;
            case Handshake.Ping when frame.Length == 1 && _members.ContainsKey(key):
                if (_router.TrySendFrame(TimeSpan.Zero, id.ToArray(), more: true))
                    _router.TrySendFrame(TimeSpan.Zero, PongFrame);
                break;
            case Handshake.Gone when frame.Length == 1:
                Forget(key);
                break;
            default:
                Telemetry.Rejected.Add(1);
                break;
        }
    }

    private void OnHello(ulong key, ref Msg id, ReadOnlySpan<byte> frame)
    {
        if (!Handshake.TryReadHello(frame, out var from, out var to, out var nonceA) || _members.ContainsKey(key))
        {
            Refuse("a malformed or repeated HELLO");
            return;
        }
        if (to != _context.LocalId || from == to || !_context.Options.Members.ContainsKey(from))
        {
            Refuse($"a HELLO from peer {from} to peer {to}: not a member of this ensemble talking to peer {_context.LocalId}");
            return;
        }
        if (_pending.Count >= MaxPending && !_pending.ContainsKey(key))
            EvictOldestPending();
        var nonceB = Handshake.NewNonce();
        _pending[key] = new Pending(from, nonceA, nonceB, ++_sequence);
        var challenge = Handshake.WriteChallenge(_context.Options.SharedSecret, from, to, nonceA, nonceB);
        if (_router.TrySendFrame(TimeSpan.Zero, id.ToArray(), more: true))
            _router.TrySendFrame(TimeSpan.Zero, challenge);
    }

    private void OnAuth(ulong key, ReadOnlySpan<byte> frame)
    {
        if (!_pending.Remove(key, out var p))
        {
            Refuse("an AUTH without a HELLO");
            return;
        }
        if (!Handshake.Verify(frame, _context.Options.SharedSecret, p.From, _context.LocalId, p.NonceA, p.NonceB))
        {
            Refuse($"a connection naming itself peer {p.From} did not prove the shared secret");
            return;
        }
        if (_connections.Remove(p.From, out var previous))
            _members.Remove(previous);   // the member reconnected: what its old connection still brings is dropped, so the pair stays in order
        _members[key] = p.From;
        _connections[p.From] = key;
        Log.IncomingAccepted(_context.Logger, _context.LocalId, p.From);
    }

    /// <summary>A connection ended. If it was a member's proven one, that member is gone (it exited, or dropped us).</summary>
    private void Forget(ulong key)
    {
        _pending.Remove(key);
        if (_members.Remove(key, out var member))
        {
            _connections.Remove(member);
            _context.MemberGone(member);
        }
    }

    private void EvictOldestPending()
    {
        var (oldest, sequence) = (0UL, long.MaxValue);
        foreach (var (key, p) in _pending)
        {
            if (p.Sequence < sequence)
                (oldest, sequence) = (key, p.Sequence);
        }
        _pending.Remove(oldest);
    }

    private void Refuse(string reason)
    {
        Telemetry.Rejected.Add(1);
        // At most one line a second: a stranger hammering the port must not flood the log (the counter has them all).
        var now = Environment.TickCount64;
        if (now - _lastRefusalLogged < 1000 && _lastRefusalLogged != 0)
        {
            _refusalsUnlogged++;
            return;
        }
        Log.IncomingRefused(_context.Logger, _context.LocalId, reason, _refusalsUnlogged);
        (_lastRefusalLogged, _refusalsUnlogged) = (now, 0);
    }

    private void SkipRest(ref Msg msg)
    {
        while (msg.HasMore && _router.TryReceive(ref msg, TimeSpan.Zero))
        {
        }
    }

    /// <summary>A routing id of 1..7 bytes as a number (its length in the top byte keeps ids of different lengths apart).</summary>
    private static bool TryKey(ReadOnlySpan<byte> routingId, out ulong key)
    {
        key = (ulong)routingId.Length << 56;
        if (routingId.IsEmpty || routingId.Length > 7)
            return false;
        for (var i = 0; i < routingId.Length; i++)
            key |= (ulong)routingId[i] << (8 * i);
        return true;
    }

    /// <summary>Closes the socket (after the poller stopped).</summary>
    public void Close()
    {
        _context.Poller.Remove(_router);
        _router.Dispose();
    }
}
