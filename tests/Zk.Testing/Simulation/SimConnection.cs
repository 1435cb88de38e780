using Zk.Embedded.Api;
using Zk.Embedded.Sessions;
using Zk.Embedded.Watches;

namespace Zk.Testing.Simulation;

/// <summary>
/// One client connection to one peer: its server-side session object (which the peer's real <see cref="WatchManager"/>
/// holds watches for) and the order in which the client received replies and watch events on it.
/// </summary>
internal sealed class SimConnection : ISessionSink
{
    private readonly History _history;
    private readonly bool _eventsAfterReply;
    private readonly List<WatchedEvent> _held = [];
    private readonly HashSet<string>? _passedOn;
    private readonly int _timeoutMillis;
    private bool _closed;

    /// <param name="eventsAfterReply">Planted: events wait until the next reply has gone out.</param>
    /// <param name="oneEventPerPath">Planted: only the first event of each path is passed on.</param>
    /// <param name="timeoutMillis">the sessions' timeout, which the peer's tracker expires them by while it leads.</param>
    /// <param name="session">the session the peer reattached (<c>GlobalSessions.Reattach</c>), or null for a connection that will create one.</param>
    public SimConnection(int id, int client, SimPeer peer, ServerSession? session, History history, int timeoutMillis, bool eventsAfterReply = false, bool oneEventPerPath = false)
    {
        _timeoutMillis = timeoutMillis;
        (Id, Client, Peer, Generation, _history, _eventsAfterReply) = (id, client, peer, peer.Generation, history, eventsAfterReply);
        _passedOn = oneEventPerPath ? new HashSet<string>(StringComparer.Ordinal) : null;
        Server = session ?? new ServerSession(default, [], timeoutMillis, []);
        if (session is not null)
            session.Sink = this;
    }

    public int Id { get; }
    public int Client { get; }
    public SimPeer Peer { get; }
    /// <summary>The peer's generation when connected: a newer one means the peer closed this connection.</summary>
    public int Generation { get; }
    /// <summary>The session as this connection's peer holds it (the watch manager's key, the publisher's sink).</summary>
    public ServerSession Server { get; private set; }

    /// <summary>The connection's session ended at its peer (closed or expired): the client hears nothing more on it.</summary>
    public bool Ended { get; private set; }

    /// <summary>The session ended by expiry: the server closed the connection at once, and no reply follows.</summary>
    public bool Expired { get; private set; }
    /// <summary>Messages received on this connection so far (replies and events share one ordered stream).</summary>
    public long Received { get; private set; }

    /// <summary>The client's side of each event it receives (its registry of watches to re-set on reconnect).</summary>
    public Action<WatchedEvent>? EventReceived { get; set; }

    /// <summary>A reply goes out: its place in the stream.</summary>
    public long NextSeq()
    {
        var seq = ++Received;
        foreach (var held in _held)
            Record(held);
        _held.Clear();
        return seq;
    }

    public void OnWatchEvent(WatchedEvent watchedEvent)
    {
        if (_passedOn is not null && !_passedOn.Add(watchedEvent.Path!))
            return;
        if (_eventsAfterReply)
            _held.Add(watchedEvent);
        else
            Record(watchedEvent);
    }

    private void Record(WatchedEvent e)
    {
        _history.Events.Add(new SimEvent(Id, ++Received, e.Path!, new Zxid(e.Zxid), e.Type));
        EventReceived?.Invoke(e);
    }

    /// <summary>The connection now carries <paramref name="session"/> (on connect, or the one it is creating), known to its peer's tracker.</summary>
    public ServerSession Attach(long session)
    {
        Server = new ServerSession(new SessionId(session), [], _timeoutMillis, []) { Sink = this };
        Peer.Tree.Sessions.Add(Server);
        return Server;
    }

    /// <summary>
    /// The publisher ended the session (its closeSession committed): its watches are gone. A watch of this connection
    /// must have fired for every change its peer applied before: the close's own (a client that closes hears its
    /// ephemerals go), not an expiry's (an expired client hears nothing more).
    /// </summary>
    public void OnSessionEnded(KeeperState state)
    {
        if (Ended || _closed || Generation != Peer.Generation)
            return;   // a connection the client closed (it moved) or its peer closed (a role change) promised nothing more
        (Ended, Expired) = (true, state == KeeperState.Expired);
        var closed = Peer.Tree.Zxid;
        var until = state == KeeperState.Expired ? new Zxid(closed.Value - 1) : closed;
        foreach (var watch in _history.Watches)
        {
            if (watch.Connection == Id && watch.OpenUntil == default)
                watch.OpenUntil = until;
        }
    }

    public void OnDetached()
    {
    }

    /// <summary>Closes it at the peer: its watches go with it.</summary>
    public void Close()
    {
        _closed = true;
        Peer.Tree.Watches.RemoveSession(Server);
        if (ReferenceEquals(Server.Sink, this))
            Server.Sink = null;   // as a closing WireConnection leaves its session: attached nowhere on this peer
    }
}

/// <summary>
/// A watch set by a read on a connection (the read saw the state at <see cref="ReadZxid"/>), or set again by the
/// client's setWatches on a new connection (<see cref="Relative"/>; <see cref="ReadZxid"/> is then the state the new
/// peer re-set it against).
/// </summary>
internal sealed record SimWatch(int Connection, long Seq, string Path, WatchKinds Kind, Zxid ReadZxid)
{
    /// <summary>A data watch set by an exists that found no node (the client keeps it among its exist watches).</summary>
    public bool Exist { get; init; }

    /// <summary>Set again by setWatches: the zxid the client had seen, which it sent.</summary>
    public Zxid? Relative { get; init; }

    /// <summary>Set again by setWatches: the watch as it stood on the previous connection.</summary>
    public SimWatch? Origin { get; init; }

    /// <summary>One line, however many reconnects the watch went through (the record's own would print every origin).</summary>
    public override string ToString() =>
        $"{(Exist ? "exist" : Kind.ToString())} watch on {Path} (connection {Connection} after message {Seq}, state {ReadZxid}"
        + (Relative is { } relative ? $", set again with relative zxid {relative}, first set on connection {Root.Connection} at {Root.ReadZxid}" : "")
        + (RemovedAt is { } removed ? $", removed at {removed}" : "") + ")";

    /// <summary>The watch as the read that first set it saw it (before any setWatches).</summary>
    public SimWatch Root => Origin?.Root ?? this;

    /// <summary>Set at the run's end: the connection was still open and its peer had applied this zxid.</summary>
    public Zxid OpenUntil { get; set; }

    /// <summary>A persistent watch removed (removeWatches): the state its peer had applied then; null while it stands.</summary>
    public Zxid? RemovedAt { get; set; }
}

/// <summary>A watch event as the client received it.</summary>
internal sealed record SimEvent(int Connection, long Seq, string Path, Zxid Zxid, EventType Type);
