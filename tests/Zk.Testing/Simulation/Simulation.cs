using System.Text;
using Zk.Embedded.Consensus;
using Zk.Embedded.Ensemble;

namespace Zk.Testing.Simulation;

/// <summary>
/// Runs 3 or 5 real <see cref="ZabPeer"/> cores (and observers) in one thread: a seeded scheduler decides which
/// message is delivered next, which is dropped, when ticks fall, when each disk fsyncs, when peers crash and
/// restart and when the leader proposes. Then a quiet phase (all peers up, no faults) must bring every peer to the
/// same history. The same seed gives the same run; <see cref="Trace"/> keeps the last events for a failure report.
/// </summary>
internal sealed class Simulation : IDisposable
{
    private static readonly int TraceLines = int.TryParse(Environment.GetEnvironmentVariable("ZK_TRACE_LINES"), out var n) ? n : 40;
    private readonly SimOptions _options;
    private readonly Random _random;
    private readonly ISimNetwork _network;
    private readonly ConsensusChecker _checker = new();
    private readonly Queue<string> _trace = new();
    private readonly List<SimPeer> _peers = [];
    private readonly Workload _workload;
    private ulong _traceHash = 14695981039346656037UL;   // FNV-1a over every trace line, not only the kept ones
    private long _step;
    private long _ticks;   // scheduler ticks (each reaches every running peer that is not paused)
    private readonly SimFaults _faults;
    private bool _quiet;
    private string? _storeRoot;

    public Simulation(SimOptions options)
    {
        if (options.LiteDbStore && (options.KeepTornRecord || options.KeepSnapshotOnTrunc))
            throw new ArgumentException("the planted disk faults are the disk model's; the real store has none", nameof(options));
        _options = options;
        _random = new Random(options.Seed);
        var voters = new int[options.Voters];
        var observers = new int[options.Observers];
        for (var i = 0; i < voters.Length; i++)
            voters[i] = i + 1;
        for (var i = 0; i < observers.Length; i++)
            observers[i] = voters.Length + i + 1;
        var coreRandom = new SeededRandom(new Random(options.Seed ^ 0x5eed));
        foreach (var id in voters.Concat(observers))
        {
            var config = new ConsensusConfig
            {
                MyId = id, Voters = voters, Observers = observers,
                InitLimit = 10, SyncLimit = 5, CommittedLogWindow = options.CommittedLogWindow, Faults = options.Faults,
            };
            var disk = options.LiteDbStore ? new StoreDisk(Path.Combine(_storeRoot ??= CreateStoreRoot(), $"peer{id}")) : (IPeerDisk)new SimDisk { KeepsTornRecord = options.KeepTornRecord };
            _peers.Add(new SimPeer(config, coreRandom, keepsWatches: options.Scenario, disk: disk) { SnapCount = options.SnapCount, Purges = options.LiteDbStore });
        }
        _faults = new SimFaults(_random, _peers.Count);
        _network = options.OverTransport ? new TransportNetwork(options.Seed, () => _step, OnDisconnected) : new SimNetwork();
        _workload = new Workload(options, _random, _peers, () => _step, Log, p => _faults.IsPaused(p.Id))
        {
            // Session activity goes to the leader like any message, and is lost like one.
            SendTraffic = (from, to, message) => _peers[to - 1].Up && _network.Send(from, to, message),
        };
    }

    /// <summary>Closes the peers' disks; with <see cref="SimOptions.LiteDbStore"/>, deletes their files.</summary>
    public void Dispose()
    {
        foreach (var peer in _peers)
            peer.Disk.Dispose();
        if (_storeRoot is not null && Directory.Exists(_storeRoot))
            Directory.Delete(_storeRoot, recursive: true);
    }

    private static string CreateStoreRoot() => Directory.CreateTempSubdirectory("zk-sim-").FullName;

    public IReadOnlyList<SimPeer> Peers => _peers;
    public ConsensusChecker Checker => _checker;
    public string Trace => string.Join('\n', _trace);
    /// <summary>Identifies the whole run: the same seed and code give the same hash.</summary>
    public string TraceHash => _traceHash.ToString("x16");
    public History History => _workload.History;
    public long Steps => _step;
    public int Faults { get; private set; }
    public int Crashes { get; private set; }
    /// <summary>Each kind of fault injected (crashes, drops, partitions, pauses, clock faults, slow disks, torn writes...).</summary>
    public SortedDictionary<string, int> FaultsByKind => _faults.Counts;
    public long Delivered { get; private set; }
    /// <summary>How many of each message kind were delivered (shows that DIFF, TRUNC and SNAP were exercised).</summary>
    public Dictionary<string, int> DeliveredByKind { get; } = [];

    /// <summary>Runs the faulty phase and the quiet phase; throws <see cref="ConsensusViolation"/> on a broken invariant.</summary>
    public void Run()
    {
        StartAll();
        for (var i = 0; i < _options.Steps; i++)
            Step();
        Settle();
        History.Check();
        SessionChecks.Check(History, _checker.History, _peers);
        ExpireEverySession();
        Log($"end: history {_checker.History.Count} txns, {History.Ops.Count} ops");
    }

    /// <summary>Every peer starts from its empty disk.</summary>
    public void StartAll()
    {
        foreach (var peer in _peers)
            StartPeer(peer);
    }

    /// <summary>
    /// The quiet phase: every fault ends, every peer runs, and they must converge on one history; then the checks of
    /// that state (durability of what leaders committed, identical digests, the workload's acknowledged writes there).
    /// </summary>
    public void Settle()
    {
        _quiet = true;
        var quietFrom = _step;
        _faults.EndAll();
        Resume(long.MaxValue);
        foreach (var peer in _peers)
        {
            if (!peer.Up)
                StartPeer(peer);
        }
        for (var i = 0; i < _options.QuietSteps && !Converged(); i++)
            Step();
        if (!Converged())
            throw new ConsensusViolation($"no convergence after {_options.QuietSteps} quiet steps: {Describe()}");
        CheckAnswered(quietFrom);
        _workload.Close();
        _checker.CheckDurability(_peers);
        History.CheckQuiescent(_peers);
    }

    /// <summary>Called after every step (a scenario runs the continuations it made).</summary>
    public Action? Stepped { get; set; }

    /// <summary>Called once a peer (re)started, and before a peer crashes (a scenario's sessions on it die with it).</summary>
    public Action<SimPeer>? PeerStarted { get; set; }
    public Action<SimPeer>? PeerCrashing { get; set; }

    /// <summary>Called for each role or phase change a peer reports, after the harness's own handling.</summary>
    public Action<SimPeer, RoleChange>? RoleChanged { get; set; }

    /// <summary>Called with a peer's answered read indexes (the workload's own are handled before), after the batch's commits are applied.</summary>
    public Action<SimPeer, List<ReadIndexResult>>? ReadsAnswered { get; set; }

    /// <summary>Called once a peer's output is all handed on (its tree and its leader's pipeline have published what they can).</summary>
    public Action<SimPeer>? Drained { get; set; }

    /// <summary>The clock the real code reads and sets timers on (one millisecond a step).</summary>
    public SimClock Clock => _workload.Clock;

    public Workload Workload => _workload;

    /// <summary>One scheduler step; then the clock's due timers and <see cref="Stepped"/>.</summary>
    public void StepOnce() => Step();

    /// <summary>Adds a line to the trace (and its hash).</summary>
    public void Note(string line) => Log(line);

    /// <summary>
    /// Ticks a healthy ensemble gets to answer every request it was sent in the quiet phase: more than a learner needs
    /// to give up a silent leader (syncLimit, 5) and a read index its round (twice that), below the forwarder's answer
    /// bound (2 × initLimit, 20), after which a request never answered would end in ConnectionLoss.
    /// </summary>
    private const int AnswerTicks = 15;

    /// <summary>
    /// The quiet phase's liveness check: once the ensemble has converged, clients start nothing more, and every request
    /// they sent since the faults ended must be answered within <see cref="AnswerTicks"/> ticks while its connection
    /// stands. A request that is never answered ends, on a real client, in a ConnectionLoss the checks take as "in
    /// doubt", so without this the model could not see it (a forwarded error's REPLY overtaken by a later COMMIT left
    /// a follower's session queue standing still, found by the ensemble request fuzz instead).
    /// </summary>
    private void CheckAnswered(long quietFrom)
    {
        _workload.StopSending();
        History.QuietRequests = History.Ops.Count(op => op.Invoke >= quietFrom);
        var until = _ticks + AnswerTicks;
        while (_ticks < until && (_workload.Waiting || !Converged()))
            Step();
        if (_workload.Unanswered(quietFrom) is { Count: > 0 } unanswered)
        {
            throw new ConsensusViolation($"{unanswered.Count} requests sent in the quiet phase unanswered {AnswerTicks} ticks after the ensemble converged: "
                + string.Join("; ", unanswered.Select(u => $"client {u.Client.Id} {u.Op.Kind} {u.Op.Path} (op {u.Op.Id}, sent at step {u.Op.Invoke}) on peer {u.Client.Peer}"))
                + $": {Describe()}");
        }
        if (!Converged())
            throw new ConsensusViolation($"no convergence {AnswerTicks} ticks after the clients stopped sending: {Describe()}");
    }

    /// <summary>
    /// Every client has stopped: each session still open must be expired by the leader and gone from every peer
    /// within a few timeouts (a liveness check of GlobalSessions: a session that never expires keeps its ephemerals
    /// for ever).
    /// </summary>
    private void ExpireEverySession()
    {
        _workload.Stop();
        var bound = 4 * _options.SessionTimeoutSteps + (int)(20 / _options.TickProbability);
        for (var i = 0; i < bound && !(Converged() && OpenSessions().Count == 0); i++)
            Step();
        if (OpenSessions() is { Count: > 0 } open)
            throw new ConsensusViolation($"sessions {string.Join(", ", open.Select(s => s.ToString("x")))} still open {bound} steps after every client stopped: {Describe()}");
        if (!Converged())
            throw new ConsensusViolation($"no convergence after the sessions expired: {Describe()}");
    }

    private List<long> OpenSessions() =>
        [.. _peers.SelectMany(p => p.Tree.State.Sessions.Keys).Select(id => id.Value).Distinct().Order()];

    /// <summary>
    /// Every peer serves in the same epoch and has applied the whole history. The same epoch matters: a learner still
    /// "serving" the term of a leader that restarted and leads a new one hears nothing more from it, and only notices
    /// after syncLimit ticks (seed 89: it looked converged until the new term's first txn).
    /// </summary>
    private bool Converged()
    {
        var epoch = _peers[0].Core?.CurrentEpoch;
        foreach (var peer in _peers)
        {
            if (peer.Core is not { IsServing: true } || peer.Core.CurrentEpoch != epoch || peer.Applied.Count != _checker.History.Count
                || peer.Core.LastLogged > peer.Core.AppliedThrough)
                return false;
        }
        return true;
    }

    private void Step()
    {
        _step++;
        try
        {
            StepCore();
        }
        finally
        {
            Clock.Fire();
            Stepped?.Invoke();
        }
    }

    private void StepCore()
    {
        Resume(_step);
        _faults.Expire(_step);
        var r = _random.NextDouble();
        if (r < _options.TickProbability)
        {
            Tick();
            return;
        }
        r -= _options.TickProbability;
        if (!_quiet && r < _options.CrashProbability)
        {
            Crash(_peers[_random.Next(_peers.Count)]);
            return;
        }
        r -= _options.CrashProbability;
        if (r < _options.RestartProbability)
        {
            var down = _peers[_random.Next(_peers.Count)];
            if (!down.Up)
                StartPeer(down);
            return;
        }
        r -= _options.RestartProbability;
        if (r < _options.ClientProbability)
        {
            if (_workload.Step() is { } leader)
                Drain(leader);
            return;
        }
        r -= _options.ClientProbability;
        if (!_quiet && r < _options.PartitionProbability + _options.HealProbability)
        {
            if (r < _options.PartitionProbability)
            {
                Fault(_faults.Partition(_options.OneWayPartitions));
                return;
            }
            _faults.Heal();
            Log("heal");
            return;
        }
        r -= _options.PartitionProbability + _options.HealProbability;
        if (!_quiet && r < _options.LongFaultProbability)
        {
            LongFault(_peers[_random.Next(_peers.Count)]);
            return;
        }
        r -= _options.LongFaultProbability;
        if (r < 0.25 && (!_options.InstantStorage || _faults.AnySlow))
        {
            Fsync(_peers[_random.Next(_peers.Count)]);
            return;
        }
        // In the quiet phase the network is healthy: several messages arrive per step, so a channel's backlog (pings,
        // acks, session activity) no longer costs a tick per queued message, which under client load made followers
        // miss syncLimit and the leader drop them again and again (5 voters, seed 1448, never converged).
        for (var i = _quiet ? 4 : 1; i > 0 && _network.TryTake(_random, Receives, out var from, out var to, out var message); i--)
            Deliver(from, to, message);
    }

    private void Tick()
    {
        _ticks++;
        foreach (var peer in _peers)
        {
            if (!peer.Up)
                continue;
            if (_faults.IsPaused(peer.Id))
            {
                _faults.MissTick(peer.Id);
                continue;
            }
            TickPeer(peer, _faults.TicksNow(peer.Id));
        }
    }

    /// <summary><paramref name="ticks"/> ticks reach the peer one after the other; a leader expires sessions at each.</summary>
    private void TickPeer(SimPeer peer, int ticks)
    {
        for (var i = 0; i < ticks && peer.Up; i++)
        {
            peer.Core!.Tick();
            Drain(peer);
            _workload.OnTick(peer);
            Drain(peer);
        }
    }

    /// <summary>A group fsync of part of the peer's pending writes; a slow disk mostly has none to offer.</summary>
    private void Fsync(SimPeer peer)
    {
        if (peer.PendingCount == 0 || _faults.IsPaused(peer.Id) || (_faults.IsSlow(peer.Id) && _random.Next(10) != 0))
            return;
        peer.CompleteStorage(1 + _random.Next(peer.PendingCount));
        Drain(peer);
    }

    private void Crash(SimPeer victim)
    {
        if (!victim.Up)
            return;
        // Unsynced writes reach the disk in order, some of them before the power goes; the one being written may tear.
        var reached = _options.CrashesWriteUnsynced && _random.Next(2) == 0 ? _random.Next(victim.PendingCount + 1) : 0;
        var torn = _options.CrashesWriteUnsynced && !_options.LiteDbStore && victim.PendingAt(reached) is AppendTxn && _random.Next(2) == 0 ? 1 + _random.Next(48) : 0;
        Log($"crash {victim.Id} (pending {victim.PendingCount} unsynced writes, {reached} reached the disk{(torn > 0 ? $", the next torn after {torn} bytes" : "")})");
        PeerCrashing?.Invoke(victim);
        victim.Crash(reached, torn);
        _faults.Forget(victim.Id);
        _network.Reset(victim.Id);
        Crashes++;
        Faults++;
        _faults.Count("crash");
        if (reached > 0)
            _faults.Count("unsynced writes kept at crash");
        if (torn > 0)
            _faults.Count("torn last record");
    }

    /// <summary>A fault that lasts: a paused peer, a stalled or jumping clock, a slow disk.</summary>
    private void LongFault(SimPeer peer)
    {
        if (!peer.Up || _faults.IsPaused(peer.Id))
            return;
        switch (_random.Next(5))
        {
            case 0:
                var until = _step + 50 + _random.Next(600);
                _faults.PauseUntil(peer.Id, until);
                Fault($"pause {peer.Id} until step {until}");
                break;
            case 1:
                var held = 2 + _random.Next(8);
                _faults.Stall(peer.Id, held);
                Fault($"clock of {peer.Id} stalls for {held} ticks");
                break;
            case 2:
                var jump = 3 + _random.Next(8);
                _faults.Count("clock jump");
                Fault($"clock of {peer.Id} jumps {jump} ticks");
                TickPeer(peer, jump);
                break;
            case 3:
                // A leader cut off whose clock stalls too: it takes longer than the rest to notice it lost its
                // quorum, so the others elect a new leader while its own clients still talk to it (what a read
                // index without a quorum round turns into a stale read).
                var leader = _peers.FirstOrDefault(p => p.Up && p.Core is { State: Zk.Embedded.Consensus.ServerState.Leading }) ?? peer;
                var stalled = 40 + _random.Next(40);
                var cutUntil = _step + (long)(stalled * 1.5 / _options.TickProbability);
                _faults.Isolate(leader.Id, cutUntil);
                _faults.Stall(leader.Id, stalled);
                Fault($"isolate {leader.Id} until step {cutUntil} with its clock stalled for {stalled} ticks");
                break;
            default:
                var slow = _step + 100 + _random.Next(700);
                _faults.SlowUntil(peer.Id, slow);
                Fault($"disk of {peer.Id} slow until step {slow}");
                break;
        }
    }

    /// <summary>Paused peers whose pause ends now get everything at once: the late ticks and every queued message, in either order.</summary>
    private void Resume(long step)
    {
        foreach (var (id, missed) in _faults.Resume(step))
        {
            var peer = _peers[id - 1];
            Log($"resume {id}: {missed} late ticks, {_network.Queued(id)} queued messages");
            var ticksFirst = _random.Next(2) == 0;
            if (ticksFirst)
                TickPeer(peer, missed);
            while (peer.Up && _network.TryTake(_random, to => to == id, out var from, out var to, out var message))
                Deliver(from, to, message);
            if (!ticksFirst)
                TickPeer(peer, missed);
        }
    }

    private bool Receives(int peer) => !_faults.IsPaused(peer);

    private void Fault(string line)
    {
        Log(line);
        Faults++;
    }

    private void Deliver(int from, int to, ZabMessage message)
    {
        if (_faults.Cuts(from, to))
            return;   // a partition loses what crosses it; the channel stays ordered for what gets through
        if (!_quiet && _random.NextDouble() < _options.DropProbability)
        {
            Log($"drop {from}->{to} {message}");
            Faults++;
            _faults.Count("drop");
            return;
        }
        var peer = _peers[to - 1];
        if (!peer.Up)
            return;
        Delivered++;
        var kind = message.GetType().Name;
        DeliveredByKind[kind] = DeliveredByKind.GetValueOrDefault(kind) + 1;
        if (message is Zk.Embedded.Consensus.ClientTraffic traffic)
            _workload.OnTraffic(to, from, traffic);   // the driver hands client traffic to the member, not the core
        else
            peer.Core!.Step(from, message);
        Drain(peer);
    }

    /// <summary>The transport saw <paramref name="peer"/>'s connection close: <paramref name="to"/>'s core hears it at once, as from the driver.</summary>
    private void OnDisconnected(int to, int peer)
    {
        if (_peers[to - 1].Core is not { } core)
            return;
        Log($"peer {to} hears {peer} disconnect");
        core.Disconnected(peer);
        Drain(_peers[to - 1]);
        _workload.OnDisconnected(to, peer);   // after the core, as the driver raises it
        Drain(_peers[to - 1]);
    }

    private void StartPeer(SimPeer peer)
    {
        _network.Joined(peer.Id);
        peer.Start();
        _workload.OnStart(peer);
        _checker.CheckApplied(peer, 0);   // what it restored from its own disk must be committed history too
        Log($"start {peer.Id} (incarnation {peer.Incarnation}, disk last {peer.Disk.LastZxid}, epochs {peer.Disk.AcceptedEpoch}/{peer.Disk.CurrentEpoch})");
        PeerStarted?.Invoke(peer);
        Drain(peer);
    }

    /// <summary>
    /// Runs a peer's leader pipeline and hands its core's output on through the consensus driver's own
    /// <see cref="ReadyOrder"/>: the messages to the network, a SNAP's restore, the persist requests to its disk queue,
    /// the committed txns to its member tree, the answered read indexes (once its tree has published them: the
    /// leader's pipeline publishes what the core committed on its own loop, as EnsembleMember.ReadIndexAsync waits
    /// for), the role changes; each part checked as it goes.
    /// </summary>
    private void Drain(SimPeer peer)
    {
        var output = new PeerOutput(this, peer);
        while (peer.Core is { } core)
        {
            peer.Tree.RunPipeline();
            if (!core.HasReady)
                break;
            ReadyOrder.HandOn(core.TakeReady(), output);
            _checker.CheckLeader(peer);
            if ((_options.InstantStorage || _quiet) && !_faults.IsSlow(peer.Id))
                peer.CompleteStorage(peer.PendingCount);
        }
        _workload.AfterDrain(peer);
        Drained?.Invoke(peer);
    }

    /// <summary>One peer's output on the simulated network, its leader's commits acknowledged to the checker, read indexes and role changes to the workload.</summary>
    private sealed class PeerOutput(Simulation sim, SimPeer peer) : SimPeerOutput(peer, sim._checker)
    {
        public override void Send(int to, ZabMessage message)
        {
            if (sim._peers[to - 1].Up && !sim._network.Send(Peer.Id, to, message))
                sim._faults.Count("tail drop (full queue)");
        }

        public override void Apply(List<ConsensusTxn> committed)
        {
            base.Apply(committed);
            if (Peer.Core!.EstablishedEpoch is { } epoch)
            {
                foreach (var txn in committed)
                {
                    if (txn.Zxid.Epoch == epoch)
                        sim._checker.Acknowledge(txn.Zxid);
                }
            }
        }

        public override void AnswerReads(List<ReadIndexResult> reads)
        {
            sim._workload.OnReads(Peer, reads);
            sim.ReadsAnswered?.Invoke(Peer, reads);
        }

        public override void RoleChanged(RoleChange change)
        {
            Peer.OnRoleChanged(change);
            Peer.Reconnect();
            sim._workload.OnRoleChanged(Peer, change);
            sim.Log($"peer {Peer.Id}: {change.State}/{change.Phase} epoch {change.Epoch} ({change.Reason})");
            sim.RoleChanged?.Invoke(Peer, change);
            if (sim._options.KeepSnapshotOnTrunc && change.State == ServerState.Leading && change.Phase == ZabPhase.Discovery)
            {
                var model = (SimDisk)Peer.Disk;
                model.KeepsNewerSnapshotOnTrunc = true;
                model.SnapshotWholeLog();
            }
        }
    }

    private void Log(string line)
    {
        if (_trace.Count == TraceLines)
            _trace.Dequeue();
        var entry = $"[{_step}] {line}";
        _trace.Enqueue(entry);
        foreach (var c in entry)
            _traceHash = (_traceHash ^ c) * 1099511628211UL;
    }

    private string Describe()
    {
        var sb = new StringBuilder();
        sb.Append($"history {_checker.History.Count}");
        foreach (var peer in _peers)
        {
            sb.Append($"; peer {peer.Id}: ");
            sb.Append(peer.Core is { } c
                ? $"{c.State}/{c.Phase} serving={c.IsServing} logged {c.LastLogged} applied {peer.Applied.Count} epochs {c.AcceptedEpoch}/{c.CurrentEpoch}"
                : "down");
        }
        return sb.ToString();
    }
}
