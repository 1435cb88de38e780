using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Zk.Embedded.Api;
using Zk.Embedded.Consensus;
using Zk.Embedded.Processing;
using Zk.Embedded.Sessions;
using Zk.Embedded.Tree;
using Zk.Embedded.Txns;
using Zk.Embedded.Watches;

namespace Zk.Testing.Simulation;

/// <summary>
/// Client sessions against the simulated ensemble. Each client is connected to one serving peer (a session reattached
/// through the peer's real <c>GlobalSessions.Reattach</c>, which refuses a peer behind the zxid the client has seen, as
/// <c>processConnectRequest</c> does) and sometimes moves. Writes go to that
/// peer's leader, whose real <see cref="Proposer"/> (PrepRequestProcessor) prepares them against its applied tree plus
/// its own outstanding proposals, and the txn goes to its core. Each request waits at the client's own peer in its real
/// <see cref="Publisher"/>, as a forwarded request does: answered when its committed txn is published there, or, when
/// the leader made no txn, once the state the leader checked is (<see cref="Publisher.Answer"/>), in its session's order.
/// A client pipelines up to two writes; its reads wait for them (CommitProcessor). Reads: plain (the peer's tree),
/// sync-then-read (a real sync through the leader, then the peer's tree once it is answered) and linearizable (the core's
/// read index, <see cref="ZabPeer.ReadIndex"/>: the client's peer reads its tree once the core answers, docs/consensus.md
/// "Linearizable reads"). Every operation goes into the <see cref="History"/>.
/// </summary>
internal sealed partial class Workload(SimOptions options, Random random, IReadOnlyList<SimPeer> peers, Func<long> now, Action<string> log, Func<SimPeer, bool> paused)
{
    private readonly SimClient[] _clients = Enumerable.Range(1, options.Clients).Select(i => new SimClient(i)).ToArray();
    private readonly TxnBuilder _builder = new(new AclCache(), new PeerLimits(1 << 20, false, null));   // every leader's proposer's
    private readonly SimClock _clock = new(now);

    /// <summary>The clock of the real code the workload runs: one millisecond per step, with timers.</summary>
    public SimClock Clock => _clock;
    private int _cxid;
    private readonly Dictionary<(int Peer, long Id), (SimClient Client, SimOp Op)> _reads = [];   // read indexes asked for
    private readonly Dictionary<int, SimOp> _ops = [];
    private readonly Dictionary<(int Peer, long Id), SimClient> _catchUps = [];   // reattaches waiting for their member's read index   // client requests by cxid, for the leader's pipeline to note what it made of them
    private long _lastReadId;
    private long _nextSession = 0x100;
    private int _connections;

    public History History { get; } = new();

    private bool _stopped;
    private bool _sendingStopped;

    /// <summary>Every client stops for good (the end of a run: their sessions are left to expire).</summary>
    public void Stop() => _stopped = true;

    /// <summary>
    /// Clients start nothing more (no operation, connect or move) but stay connected and keep their sessions alive, so
    /// what they wait for can be answered: the quiet phase's liveness check (<see cref="Unanswered"/>).
    /// </summary>
    public void StopSending() => _sendingStopped = true;

    /// <summary>
    /// Operations invoked at or after step <paramref name="since"/> that still wait for their answer although their
    /// client's connection stands on a serving peer: in a healthy ensemble, a request that is never answered (a lost
    /// reply, a session queue that stands still) only ends when the client gives up, and the model counts that
    /// ConnectionLoss as "in doubt", never as a violation. A request or reply the faults lost before then holds up
    /// its session's later answers only until the forwarder's next mark shows the gap (a tick) and fails them.
    /// </summary>
    public List<(SimClient Client, SimOp Op)> Unanswered(long since) =>
        [.. _clients.Where(c => c.Connection is { Ended: false } connection && peers[c.Peer - 1] is { Core.IsServing: true } peer
                && connection.Generation == peer.Generation)
            .SelectMany(c => c.Outstanding.Where(op => op.Invoke >= since).Select(op => (c, op)))];

    /// <summary>Clients still waiting for an answer.</summary>
    public bool Waiting => _clients.Any(c => c.Outstanding.Count > 0);

    /// <summary>One client acts; returns the leader that proposed, to be drained, or null.</summary>
    public SimPeer? Step()
    {
        if (_stopped || History.Ops.Count >= options.MaxOps)
            return null;
        var client = _clients[random.Next(_clients.Length)];
        if (now() < client.SilentUntil)
            return null;
        if (client.CatchingUp is { } catchingUp)
        {
            // The reattach waits for its member's read index; a member that restarted or stopped serving never answers it.
            if (catchingUp.Peer.Generation == catchingUp.Generation && catchingUp.Peer.Core is { IsServing: true })
                return null;
            _catchUps.Remove((catchingUp.Peer.Id, catchingUp.Read));
            client.CatchingUp = null;
        }
        if (_sendingStopped && client.Peer == 0)
            return null;
        if (client.Peer == 0 || (!_sendingStopped && random.NextDouble() < options.MoveProbability))
        {
            return Connect(client);
        }
        if (PeerOf(client) is not { } peer)
            return null;
        if (client.ClaimWait is { } wait)
        {
            // A reattach's reply waits until the member's leader answered its claim, a tick at most, as the wire
            // and in-process reattaches do (GlobalSessions.ClaimAnswered): the client sends nothing before it.
            if (!wait.Answered.IsCompleted && now() < wait.Until)
                return null;
            client.ClaimWait = null;
        }
        Ping(client, peer);
        if (_sendingStopped)
            return null;
        if (client.Session == 0)
            return client.Outstanding.Count == 0 ? Write(client, SimOpKind.CreateSession, peer) : null;
        // A linearizable read reads the tree when its index arrives: a write of the same session issued after it
        // must not be pipelined past it (it would see that write), so the session waits for it.
        if (client.Closing || client.Outstanding.Count >= 2 || client.Outstanding.Exists(o => o.Kind == SimOpKind.LinearRead))
            return null;
        var r = random.Next(100);
        if (r < 30) return Write(client, SimOpKind.SetData, peer);
        if (r < 42) return Write(client, SimOpKind.CreateSequential, peer);
        if (r < 52) return Write(client, SimOpKind.Multi, peer);
        if (r < 60) return Write(client, SimOpKind.Ephemeral, peer);
        if (client.Outstanding.Count > 0)
            return null;   // a session's reads wait for its writes
        if (r < 63) return Write(client, SimOpKind.CloseSession, peer);
        if (r < 65) { GoSilent(client); return null; }
        if (StandingPersistent(client) is { Count: > 0 } standing && random.Next(4) == 0)
        {
            RemoveWatch(client, peer, standing);
            return null;
        }
        if (r < 72) { ReadChildren(client, peer); return null; }
        if (r < 80) { Read(client, peer); return null; }
        if (r < 90) return SyncRead(client, peer);
        if (options.LinearReadsWithoutBarrier)
        {
            Read(client, peer, SimOpKind.LinearRead);
            return null;
        }
        return LinearRead(client, peer);
    }

    /// <summary>Asks the client's peer for a read index; the read happens when the core answers (<see cref="OnReads"/>).</summary>
    private SimPeer LinearRead(SimClient client, SimPeer peer)
    {
        var op = Begin(client, SimOpKind.LinearRead, SimTree.Register(random.Next(SimTree.Registers)));
        var id = ++_lastReadId;
        _reads[(peer.Id, id)] = (client, op);
        client.Outstanding.Add(op);
        log($"client {client.Id} linear read {op.Path} on {peer.Id} (read index {id})");
        peer.Core!.ReadIndex(id);
        return peer;
    }

    /// <summary>
    /// The core's answers to read indexes, after the batch's txns were applied: the read sees the peer's tree now (at
    /// or past the index) and is delivered in the session's order; a failed one is a ConnectionLoss.
    /// </summary>
    public void OnReads(SimPeer peer, List<ReadIndexResult> reads)
    {
        foreach (var read in reads)
        {
            if (_catchUps.Remove((peer.Id, read.Id), out var reattaching))
            {
                if (reattaching.CatchingUp is { } catchingUp && catchingUp.Peer == peer && catchingUp.Read == read.Id)
                    CaughtUp(reattaching, peer, read);
                continue;
            }
            if (!_reads.Remove((peer.Id, read.Id), out var asked) || asked.Op.Outcome != SimOutcome.Pending)
                continue;   // the client moved away or the run ended: already in doubt
            var (client, op) = asked;
            if (read.Index is not { } index)
            {
                client.Outstanding.Remove(op);
                Finish(client, op, SimOutcome.Unknown);
                continue;
            }
            if (peer.Tree.Zxid < index)
            {
                // A follower publishes on the driver's loop before the index is answered; a leader's pipeline publishes
                // the same commits a moment later (a batch once all of it is committed): EnsembleMember waits for it.
                if (peer.Tree.Writes is null)
                    throw new ConsensusViolation($"peer {peer.Id} answered read index {read.Id} at {index} but has applied only {peer.Tree.Zxid}");
                _readsPublishing.Add((peer, client.Connection!.Generation, index, client, op));
                continue;
            }
            ReadAt(client, op, peer);
        }
    }

    private readonly List<(SimPeer Peer, int Generation, Zxid Index, SimClient Client, SimOp Op)> _readsPublishing = [];

    /// <summary>
    /// After the simulation drained <paramref name="peer"/>: linearizable reads whose index its leader's pipeline has
    /// now published are read; those whose connection ended meanwhile are in doubt (EnsembleMember's wait fails with
    /// ConnectionLoss when the member stops serving).
    /// </summary>
    public void AfterDrain(SimPeer peer)
    {
        for (var i = _readsPublishing.Count - 1; i >= 0; i--)
        {
            var (reader, generation, index, client, op) = _readsPublishing[i];
            if (reader != peer)
                continue;
            if (op.Outcome != SimOutcome.Pending)
                _readsPublishing.RemoveAt(i);
            else if (peer.Generation != generation || peer.Core is not { IsServing: true })
            {
                _readsPublishing.RemoveAt(i);
                client.Outstanding.Remove(op);
                Finish(client, op, SimOutcome.Unknown);
            }
            else if (peer.Tree.Zxid >= index)
            {
                _readsPublishing.RemoveAt(i);
                ReadAt(client, op, peer);
            }
        }
    }

    private void ReadAt(SimClient client, SimOp op, SimPeer peer)
    {
        if (client.Connection is { Expired: true })
        {
            // As OnReply: the peer closed the connection when it published the expiry, so the read's reply never goes
            // out (seed 3161 answered a read index of an expired session at a state past its close, whose watches were
            // gone with it, and the checker rightly found a change shown before its event).
            LoseSession(client, "its session expired");
            return;
        }

        Observe(op, peer);
        op.Zxid = peer.Tree.Zxid;
        client.Outstanding.Remove(op);   // nothing else of the session is outstanding: a linear read waits alone
        Finish(client, op, SimOutcome.Ok);
    }

    /// <summary>The client's peer while their connection stands (null while that peer is paused); disconnects the client otherwise.</summary>
    private SimPeer? PeerOf(SimClient client)
    {
        var peer = peers[client.Peer - 1];
        if (paused(peer))
            return null;   // it answers nothing until it resumes (the client may still move away)
        if (peer.Core is not { IsServing: true } || client.Connection!.Generation != peer.Generation)
        {
            Disconnect(client, "its peer closed the connection");
            return null;
        }
        if (client.Connection.Ended)
        {
            LoseSession(client, "its session ended");   // closed or expired: the client hears so and starts another
            return null;
        }
        return peer;
    }

    /// <summary>At the end of a run every reply still missing is a ConnectionLoss.</summary>
    public void Close()
    {
        foreach (var client in _clients)
        {
            if (client.Peer != 0 && PeerOf(client) is { } peer && !client.Connection!.Ended)
            {
                foreach (var watch in History.Watches.Where(w => w.Connection == client.Connection!.Id))
                    watch.OpenUntil = peer.Tree.Zxid;
            }
            Disconnect(client, "end of run");
        }
    }

    /// <summary>Connects the client to a serving peer; returns that peer when it asked its core for a read index (to be drained).</summary>
    private SimPeer? Connect(SimClient client)
    {
        Disconnect(client, "moving");
        client.CatchingUp = null;
        // A client with a session tries any serving peer and lets it refuse (the real GlobalSessions.Reattach: behind
        // what the client has seen, or the session gone); a new one goes where it has seen nothing newer.
        var candidates = peers.Where(p => p.Core is { IsServing: true } && !paused(p) && (client.Session != 0 || p.Tree.Zxid >= client.LastSeen)).ToList();
        if (candidates.Count == 0)
            return null;
        var peer = candidates[random.Next(candidates.Count)];
        ServerSession? session = null;
        if (client.Session != 0)
        {
            if (!TryReattach(client, peer, afterCatchUp: false, out session))
                return null;   // refused: it tries another at its next action
            if (session is null && client.Session != 0)
            {
                // The member does not know the session yet (its createSession has not reached it): it catches up
                // with a read index and looks again (PeerCore.FindForReattachAsync); the client waits (OnReads).
                var read = ++_lastReadId;
                client.CatchingUp = (peer, peer.Generation, read);
                _catchUps[(peer.Id, read)] = client;
                log($"client {client.Id} not known yet by {peer.Id}: session {client.Session:x}, read index {read}");
                History.ReattachCatchUps++;
                peer.Core!.ReadIndex(read);
                return peer;
            }
        }
        Attach(client, peer, session);
        return null;
    }

    /// <summary>
    /// A reattach's read index answered: the member has applied everything its leader had committed when the client
    /// asked (or failed to learn it: the client tries elsewhere), and looks for the session again, as
    /// <c>PeerCore.FindForReattachAsync</c> does; not found now, the session is gone.
    /// </summary>
    private void CaughtUp(SimClient client, SimPeer peer, ReadIndexResult read)
    {
        client.CatchingUp = null;
        if (read.Index is not { } index || peer.Core is not { IsServing: true } || peer.Tree.Zxid < index)
        {
            // A leader's pipeline may publish the index a moment later (EnsembleMember waits); refusing is the simpler model.
            log($"client {client.Id} refused by {peer.Id} after read index {read.Id}");
            History.ReattachRefused++;
            return;
        }
        if (TryReattach(client, peer, afterCatchUp: true, out var session))
            Attach(client, peer, session);
    }

    /// <summary>
    /// The client's session looked for at the peer's member (its real <c>GlobalSessions.Reattach</c>): false when the
    /// member refused (ConnectionLoss); else the session, whose claim the client then waits on, or null when it
    /// expired (the client starts another: <see cref="SimClient.Session"/> is 0) or, before
    /// <paramref name="afterCatchUp"/>, when the member does not know it yet (the session is left as it was).
    /// </summary>
    private bool TryReattach(SimClient client, SimPeer peer, bool afterCatchUp, out ServerSession? session)
    {
        var id = new SessionId(client.Session);
        var global = _members[peer.Id - 1]!.Global;
        session = null;
        try
        {
            session = global.Reattach(id, peer.Tree.Sessions.PasswordFor(id), client.LastSeen);
        }
        catch (ZkException e) when (e.Code == ZkErrorCode.ConnectionLoss)
        {
            log($"client {client.Id} refused by {peer.Id}: {e.Message}");
            History.ReattachRefused++;
            return false;
        }
        catch (ZkException e) when (e.Code == ZkErrorCode.SessionExpired)
        {
            Expired("it expired");
            return true;
        }

        if (session is not null)
        {
            client.ClaimWait = (global.ClaimAnswered(id), now() + (long)Math.Ceiling(1 / options.TickProbability));
            History.Reattached++;
        }
        else if (afterCatchUp)
            Expired("it was still unknown after the read index");
        return true;

        void Expired(string why)
        {
            log($"client {client.Id} told by {peer.Id} that session {client.Session:x} expired: {why}");
            History.ReattachExpired++;
            client.Session = 0;   // it starts another
        }
    }

    private void Attach(SimClient client, SimPeer peer, ServerSession? session)
    {
        client.Peer = peer.Id;
        client.Connection = new SimConnection(++_connections, client.Id, peer, session, History, options.SessionTimeoutSteps, options.WatchEventsAfterReply, options.OneEventPerPath)
        {
            EventReceived = e => Forget(client, e),
        };
        Rewatch(client, peer);
    }

    private void Disconnect(SimClient client, string why)
    {
        if (client.Outstanding.Count > 0)
            log($"client {client.Id} loses {client.Outstanding.Count} replies: {why}");
        // Their waiting requests stay in the peer's publisher, as a real peer's do: answered to nobody, or failed at its next role change.
        var lost = client.Outstanding.ToList();
        client.Outstanding.Clear();
        foreach (var op in lost)
            Finish(client, op, SimOutcome.Unknown);
        client.Connection?.Close();
        (client.Peer, client.Connection, client.ClaimWait) = (0, null, null);
    }

    private void Read(SimClient client, SimPeer peer, SimOpKind kind = SimOpKind.Read)
    {
        // An eighth of the plain reads are an exists with a watch on a node that is not there yet: the name the next
        // plain sequential create under a queue takes (NodeCreated if it comes; a multi's create takes that number
        // under another name, and then nothing ever fires).
        var missing = kind == SimOpKind.Read && random.Next(8) == 0 && SimTree.Queue(random.Next(SimTree.Queues)) is var queue && SimTree.Exists(peer.Tree.State, queue)
            ? SimTree.Create(peer.Tree.State, queue, "n", true, 0, "").Path
            : null;
        var op = Begin(client, kind, missing ?? SimTree.Register(random.Next(SimTree.Registers)));
        Observe(op, peer);
        op.Zxid = peer.Tree.Zxid;
        // Otherwise a plain read sets a one-shot data watch a third of the time, or (one in six) adds a persistent
        // watch on the register as well (addWatch, answered with the read).
        Answer(client, op, peer, missing is not null ? WatchKinds.Data
            : kind != SimOpKind.Read ? WatchKinds.None
            : random.Next(6) switch { 3 or 4 => WatchKinds.Data, 5 => WatchKinds.Persistent, _ => WatchKinds.None });
    }

    /// <summary>
    /// removeWatches of one of the connection's persistent watches, through the real <c>WatchManager.Remove</c>: no
    /// event for a change its peer applies after this.
    /// </summary>
    private void RemoveWatch(SimClient client, SimPeer peer, List<SimWatch> standing)
    {
        var chosen = standing[random.Next(standing.Count)];
        var type = chosen.Kind == WatchKinds.Persistent ? WatcherType.Persistent : WatcherType.PersistentRecursive;
        if (!options.IgnoreRemoveWatches && !peer.Tree.Watches.Remove(client.Connection!.Server, chosen.Path, type, checkOnly: false))
            throw new ConsensusViolation($"removeWatches found no {type} watch on {chosen.Path} for connection {chosen.Connection}, which set it");
        // Added twice, a persistent watch is one registration: the removal ends every record of it.
        foreach (var watch in standing.Where(w => w.Path == chosen.Path && w.Kind == chosen.Kind))
            watch.RemovedAt = peer.Tree.Zxid;
        client.Standing.RemoveAll(w => w.Path == chosen.Path && w.Kind == chosen.Kind);
        log($"client {client.Id} removes its {type} watch on {chosen.Path} at {peer.Tree.Zxid} on {peer.Id}");
    }

    /// <summary>The persistent watches the client's connection has set and not removed.</summary>
    private List<SimWatch> StandingPersistent(SimClient client) =>
        [.. History.Watches.Where(w => w.Connection == client.Connection!.Id && w.RemovedAt is null && w.Kind is WatchKinds.Persistent or WatchKinds.PersistentRecursive)];

    /// <summary>getChildren of the ephemerals' parent or a queue, sometimes with a child watch.</summary>
    private void ReadChildren(SimClient client, SimPeer peer)
    {
        var parent = random.Next(2) == 0 ? SimTree.Ephemerals : SimTree.Queue(random.Next(SimTree.Queues));
        var op = Begin(client, SimOpKind.Children, parent);
        op.ReadChildren = SimTree.Children(peer.Tree.State, parent);
        op.Zxid = peer.Tree.Zxid;
        // A one-shot child watch a third of the time, or (one in six) a persistent recursive watch on the parent: its
        // children's creates, deletes and data changes, never NodeChildrenChanged.
        Answer(client, op, peer, random.Next(6) switch { 3 or 4 => WatchKinds.Child, 5 => WatchKinds.PersistentRecursive, _ => WatchKinds.None });
    }

    /// <summary>A read's reply; a watch it sets is registered with the peer's real WatchManager before the reply goes out.</summary>
    private void Answer(SimClient client, SimOp op, SimPeer peer, WatchKinds watch)
    {
        if (watch is WatchKinds.Persistent or WatchKinds.PersistentRecursive)
            peer.Tree.Watches.AddPersistent(client.Connection!.Server, op.Path, watch == WatchKinds.Persistent ? AddWatchMode.Persistent : AddWatchMode.PersistentRecursive);
        else if (watch != WatchKinds.None)
            peer.Tree.Watches.AddOneShot(client.Connection!.Server, op.Path, watch, peer.Tree.State.Zxid);
        Finish(client, op, SimOutcome.Ok);
        if (watch == WatchKinds.None)
            return;
        // An exists that found no node leaves an exist watch (its own list in setWatches).
        var record = new SimWatch(op.Connection, op.ReplySeq, op.Path, watch, op.Zxid) { Exist = watch == WatchKinds.Data && op.ReadVersion < 0 };
        History.Watches.Add(record);
        client.Standing.Add(record);
    }

    /// <summary>A real sync through the leader (answered without a txn once its state is published here), then a read of the peer's tree.</summary>
    private SimPeer SyncRead(SimClient client, SimPeer peer)
    {
        var op = Begin(client, SimOpKind.SyncRead, SimTree.Register(random.Next(SimTree.Registers)));
        Submit(client, peer, op, client.Session, new SyncRequest(op.Path));
        return peer;
    }

    private SimPeer? Write(SimClient client, SimOpKind kind, SimPeer peer)
    {
        var session = kind == SimOpKind.CreateSession ? _nextSession++ : client.Session;
        var register = SimTree.Register(random.Next(SimTree.Registers));
        var queue = SimTree.Queue(random.Next(SimTree.Queues));
        var data = $"c{client.Id}-{History.Ops.Count}";
        // A read-modify-write client: the version it expects is what its own peer shows.
        var expected = SimTree.Read(peer.Tree.State, register)!.Value.Version;
        var op = kind switch
        {
            SimOpKind.SetData or SimOpKind.Multi => Begin(client, kind, register, expected, data, session, kind == SimOpKind.Multi ? queue : null),
            SimOpKind.CreateSequential => Begin(client, kind, queue, data: data, session: session),
            _ => Begin(client, kind, SimTree.Ephemerals, data: data, session: session),
        };
        var bytes = Encoding.UTF8.GetBytes(data);
        PipelineRequest request = kind switch
        {
            SimOpKind.CreateSession => new CreateSessionRequest(options.SessionTimeoutSteps),
            SimOpKind.CloseSession => new CloseSessionRequest(Expired: false),
            SimOpKind.SetData => new SetDataRequest(register, bytes, expected),
            SimOpKind.Multi => new MultiRequest([new SetDataOp(register, bytes, expected), new CreateOp(queue + "/m", bytes, Acl.OpenUnsafe, CreateMode.PersistentSequential, -1)]),
            SimOpKind.CreateSequential => new CreateRequest(queue + "/n", bytes, Acl.OpenUnsafe, CreateMode.PersistentSequential, -1, false),
            SimOpKind.Ephemeral => new CreateRequest($"{SimTree.Ephemerals}/c{client.Id}-{session:x}-{op.Id}", bytes, Acl.OpenUnsafe, CreateMode.Ephemeral, -1, false),
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "not a write"),
        };
        if (kind == SimOpKind.CreateSession)
            client.Session = session;
        if (kind == SimOpKind.CloseSession)
            client.Closing = true;
        Submit(client, peer, op, session, request);
        return peer;   // a leader may have proposed it
    }

    /// <summary>
    /// A request of the client's session through its peer's real <see cref="Zk.Embedded.Ensemble.WriteForwarder.SubmitAsync"/>, as
    /// EnsembleMember submits one: on the leader into its real pipeline (<see cref="Admit"/>), refused with SessionMoved
    /// when the session is attached elsewhere; on a learner it waits in the peer's real publisher
    /// (<see cref="Publisher.ExpectTxn"/>) and goes to the leader as a REQUEST over the simulated network, where the
    /// leader's forwarder checks the session's owner and hands it to the pipeline; an answer without a txn comes back
    /// as a REPLY. Both ways can be lost: the forwarder fails what waits longer than its bound, or when the transport
    /// sees the leader's connection close, with ConnectionLoss. A member that does not serve fails it at once.
    /// </summary>
    private void Submit(SimClient client, SimPeer peer, SimOp op, long session, PipelineRequest request)
    {
        var cxid = ++_cxid;
        client.Outstanding.Add(op);
        _ops[cxid] = op;
        var server = op.Kind == SimOpKind.CreateSession ? client.Connection!.Attach(session) : client.Connection!.Server;
        log($"client {client.Id} {op.Kind} {op.Path} (cxid {cxid}) on {peer.Id}");
        var submitted = _members[peer.Id - 1]!.Forwarder.SubmitAsync(new PendingWrite(server, request, new SimReply(this, client, op), [], cxid));
        if (submitted.IsFaulted)
        {
            var code = submitted.AsTask().Exception!.GetBaseException() is ZkException e ? e.Code : ZkErrorCode.SystemError;
            OnReply(client, op, new Reply(code, request.ErrorPath, null, peer.Tree.Zxid, peer.Tree.State));
        }
    }

    /// <summary>A reply from the client's peer's publisher; one for a request the client gave up on (it moved, or its peer closed the connection) goes nowhere.</summary>
    private void OnReply(SimClient client, SimOp op, in Reply reply)
    {
        if (op.Outcome != SimOutcome.Pending)
            return;
        if (client.Connection is { Expired: true })
        {
            LoseSession(client, "its session expired");   // the peer closed the connection: this reply never goes out
            return;
        }
        client.Outstanding.Remove(op);
        switch (reply.Error)
        {
            case ZkErrorCode.Ok when op.Kind == SimOpKind.SyncRead:
                Observe(op, peers[client.Peer - 1]);   // the read after the sync: the peer's tree now
                Finish(client, op, SimOutcome.Ok);
                break;
            case ZkErrorCode.Ok when op.Zxid == default:
                // No txn was proposed for it: only a close of a session already gone is answered so.
                if (op.Kind != SimOpKind.CloseSession)
                    throw new ConsensusViolation($"{op} was answered Ok at {reply.Zxid} though its leader proposed no txn for it");
                (op.NoTxn, op.Zxid) = (true, reply.Zxid);
                Finish(client, op, SimOutcome.Ok);
                break;
            case ZkErrorCode.Ok:
                if (reply.Zxid != op.Zxid)
                    throw new ConsensusViolation($"the reply to {op} carries zxid {reply.Zxid}: it answered another txn");
                Finish(client, op, SimOutcome.Ok);
                break;
            case ZkErrorCode.BadVersion when op.Zxid == default:
                // Refused by the leader's proposer: no txn, the reply waited for the state it checked (its zxid).
                (op.NoTxn, op.Refused, op.Zxid) = (true, true, reply.Zxid);
                Finish(client, op, SimOutcome.BadVersion);
                break;
            case ZkErrorCode.SessionExpired:
                Finish(client, op, SimOutcome.SessionExpired);
                break;
            case ZkErrorCode.SessionMoved:
                History.SessionMoved++;
                Finish(client, op, SimOutcome.SessionMoved);
                break;
            case ZkErrorCode.ConnectionLoss:
                History.ConnectionLossReplies++;
                Finish(client, op, SimOutcome.Unknown);
                break;
            default:
                throw new ConsensusViolation($"{op} was answered {reply.Error}{(op.Refused ? "" : " though its leader made a txn for it")}");
        }
    }

    private sealed class SimReply(Workload workload, SimClient client, SimOp op) : IReplyTarget
    {
        public void Complete(in Reply reply) => workload.OnReply(client, op, reply);
    }

    /// <summary>
    /// What reaches a leader's real pipeline (its own clients' writes through the forwarder's SubmitAsync, its
    /// learners' forwarded ones, GlobalSessions' expiries), with the planted faults of the pipeline's entry applied.
    /// </summary>
    private ValueTask Submit(SimPeer leader, PendingWrite write) =>
        Admit(write) is { } admitted ? leader.Tree.Writes!.SubmitAsync(admitted) : ValueTask.CompletedTask;

    private void Post(SimPeer leader, PendingWrite write)
    {
        if (Admit(write) is { } admitted)
            leader.Tree.Writes!.Post(admitted);   // the forwarder and GlobalSessions saw the pipeline a moment ago, on this thread
    }

    /// <summary>The write as the pipeline gets it, after the planted faults of its entry; null when it is lost.</summary>
    private PendingWrite? Admit(PendingWrite write)
    {
        if (write.Request is CloseSessionRequest { Expired: true } && options.DropExpiries)
            return null;   // planted: the leader's expiries are lost before they are proposed
        if (write.Request is SyncRequest && options.DropForwardedSyncs)
            return null;   // planted: a learner's forwarded sync (only those are posted) never reaches the proposer
        if (options.SkipSessionCheck)   // planted: a system session skips the builder's checkSession
            write = write with { Session = new ServerSession(write.Session.SessionId, [], options.SessionTimeoutSteps, [], isSystem: true) };
        return write;
    }

    /// <summary>
    /// The leader's pipeline proposes <paramref name="proposed"/>: the request of the workload that made it learns its zxid
    /// (its reply must name that txn) and the node it created; an expiry (a closeSession of the peer's own, cxid 0) is noted.
    /// </summary>
    private void OnProposing(SimPeer leader, ConsensusTxn proposed)
    {
        var txn = TxnCodec.Decode(proposed.Data, proposed.Zxid);
        var expiry = txn is { Op: CloseSessionTxn, Cxid: 0 };
        if (expiry)
            History.Expirations.Add(txn.SessionId.Value);
        var op = txn.Cxid != 0 && _ops.TryGetValue(txn.Cxid, out var made) && made.Session == txn.SessionId.Value ? made : null;
        if (op is not null)
            (op.Zxid, op.CreatedPath) = (txn.Zxid, txn.Op switch { CreateTxn c => c.Path, MultiTxn { Ops: [_, CreateTxn c] } => c.Path, _ => null });
        log($"leader {leader.Id} proposes {(expiry ? "the expiry of " : "")}{op?.ToString() ?? txn.Op.GetType().Name} of session {txn.SessionId.Value:x} as {txn.Zxid}");
    }

    private static void Observe(SimOp op, SimPeer peer)
    {
        var value = SimTree.Read(peer.Tree.State, op.Path);
        (op.ReadVersion, op.ReadData) = value ?? (-1, "");
        if (op.Kind != SimOpKind.LinearRead)
            op.Zxid = peer.Tree.Zxid;
    }

    private SimOp Begin(SimClient client, SimOpKind kind, string path, int expected = 0, string data = "", long session = 0, string? queue = null)
    {
        var op = new SimOp
        {
            Id = History.Ops.Count, Client = client.Id, Session = session == 0 ? client.Session : session, Kind = kind,
            Path = path, ExpectedVersion = expected, Data = data, Invoke = now(), Queue = queue,
        };
        History.Ops.Add(op);
        return op;
    }

    private void Finish(SimClient client, SimOp op, SimOutcome outcome)
    {
        op.Outcome = outcome;
        op.Return = outcome == SimOutcome.Unknown ? long.MaxValue : now();
        if (outcome != SimOutcome.Unknown)
            (op.Connection, op.ReplySeq) = (client.Connection!.Id, client.Connection.NextSeq());
        var answered = outcome is SimOutcome.Ok or SimOutcome.BadVersion;
        if (answered)
            History.Returned(op, client.LastSeen);
        if (answered && op.Zxid > client.LastSeen)
            client.LastSeen = op.Zxid;
        if ((op.Kind == SimOpKind.CreateSession && outcome != SimOutcome.Ok) || outcome == SimOutcome.SessionExpired)
            client.Session = 0;   // in doubt or gone: start another
        if (op.Kind == SimOpKind.CloseSession && outcome != SimOutcome.BadVersion)
            (client.Session, client.Closing) = (0, false);
        // The server closes the connection after closeSession; a client told its session expired is done with it too.
        if (op.Kind == SimOpKind.CloseSession && outcome == SimOutcome.Ok)
            Disconnect(client, "its session closed");
        else if (outcome == SimOutcome.SessionExpired)
            LoseSession(client, "its session expired");
    }

    /// <summary>The client's session is over (the peer said so, or closed the connection for it): it drops the connection and starts another later.</summary>
    private void LoseSession(SimClient client, string why)
    {
        Disconnect(client, why);
        client.Session = 0;
    }

    internal sealed class SimClient(int id)
    {
        private long _session;

        public int Id { get; } = id;

        /// <summary>The client's session; its watches end with it.</summary>
        public long Session
        {
            get => _session;
            set
            {
                if (value != _session)
                    Standing.Clear();
                _session = value;
            }
        }

        /// <summary>
        /// The client's registry of watches (ZooKeeper's ZKWatchManager): one-shots not yet fired and persistent
        /// watches not removed, which it sets again on every new connection of its session.
        /// </summary>
        public List<SimWatch> Standing { get; } = [];
        public bool Closing { get; set; }
        public int Peer { get; set; }
        public SimConnection? Connection { get; set; }

        /// <summary>A reattach waiting for its member to catch up (the read index it asked for) before it looks for the session again.</summary>
        public (SimPeer Peer, int Generation, long Read)? CatchingUp { get; set; }
        /// <summary>A reattach's claim the member's leader has not answered, and the step the client stops waiting for it.</summary>
        public (Task Answered, long Until)? ClaimWait { get; set; }
        /// <summary>A client that stopped pinging (its process hung) does nothing before this step.</summary>
        public long SilentUntil { get; set; }
        public Zxid LastSeen { get; set; }
        public List<SimOp> Outstanding { get; } = [];
    }
}
