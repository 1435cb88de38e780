using System.Text;
using Zk.Embedded.Consensus;

namespace Zk.Embedded.Tests.Consensus.Harness;

/// <summary>
/// Runs 3 or 5 real <see cref="ZabPeer"/> cores (and observers) in one thread: a seeded scheduler decides which
/// message is delivered next, which is dropped, when ticks fall, when each disk fsyncs, when peers crash and
/// restart and when the leader proposes. Then a quiet phase (all peers up, no faults) must bring every peer to the
/// same history. The same seed gives the same run; <see cref="Trace"/> keeps the last events for a failure report.
/// </summary>
internal sealed class Simulation
{
    private static readonly int TraceLines = int.TryParse(Environment.GetEnvironmentVariable("ZK_TRACE_LINES"), out var n) ? n : 40;
    private readonly SimOptions _options;
    private readonly Random _random;
    private readonly SimNetwork _network = new();
    private readonly ConsensusChecker _checker = new();
    private readonly Queue<string> _trace = new();
    private readonly List<SimPeer> _peers = [];
    private readonly Workload _workload;
    private ulong _traceHash = 14695981039346656037UL;   // FNV-1a over every trace line, not only the kept ones
    private long _step;
    private bool _quiet;
    private int _isolated;   // a peer cut off from every other, or 0

    public Simulation(SimOptions options)
    {
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
            _peers.Add(new SimPeer(config, coreRandom));
        }
        _workload = new Workload(options, _random, _peers, () => _step, Log);
    }

    public IReadOnlyList<SimPeer> Peers => _peers;
    public ConsensusChecker Checker => _checker;
    public string Trace => string.Join('\n', _trace);
    /// <summary>Identifies the whole run: the same seed and code give the same hash.</summary>
    public string TraceHash => _traceHash.ToString("x16");
    public History History => _workload.History;
    public long Steps => _step;
    public int Faults { get; private set; }
    public int Crashes { get; private set; }
    public long Delivered { get; private set; }
    /// <summary>How many of each message kind were delivered (shows that DIFF, TRUNC and SNAP were exercised).</summary>
    public Dictionary<string, int> DeliveredByKind { get; } = [];

    /// <summary>Runs the faulty phase and the quiet phase; throws <see cref="ConsensusViolation"/> on a broken invariant.</summary>
    public void Run()
    {
        foreach (var peer in _peers)
            StartPeer(peer);
        for (var i = 0; i < _options.Steps; i++)
            Step();
        _quiet = true;
        _isolated = 0;
        foreach (var peer in _peers)
        {
            if (!peer.Up)
                StartPeer(peer);
        }
        for (var i = 0; i < _options.QuietSteps && !Converged(); i++)
            Step();
        if (!Converged())
            throw new ConsensusViolation($"no convergence after {_options.QuietSteps} quiet steps: {Describe()}");
        _workload.Close();
        _checker.CheckDurability(_peers);
        History.CheckQuiescent(_peers);
        History.Check();
        Log($"end: history {_checker.History.Count} txns, {History.Ops.Count} ops");
    }

    private bool Converged()
    {
        foreach (var peer in _peers)
        {
            if (peer.Core is not { IsServing: true } || peer.Applied.Count != _checker.History.Count || peer.Core.LastLogged > peer.Core.AppliedThrough)
                return false;
        }
        return true;
    }

    private void Step()
    {
        _step++;
        var r = _random.NextDouble();
        if (r < _options.TickProbability)
        {
            foreach (var peer in _peers)
            {
                if (peer.Up)
                {
                    peer.Core!.Tick();
                    Drain(peer);
                }
            }
            return;
        }
        r -= _options.TickProbability;
        if (!_quiet && r < _options.CrashProbability)
        {
            var victim = _peers[_random.Next(_peers.Count)];
            if (victim.Up)
            {
                Log($"crash {victim.Id} (pending {victim.PendingCount} unsynced writes)");
                victim.Crash();
                _network.Reset(victim.Id);
                _workload.OnCrash(victim);
                Crashes++;
                Faults++;
            }
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
            _workload.Deliver();
            return;
        }
        r -= _options.ClientProbability;
        if (!_quiet && r < _options.PartitionProbability + _options.HealProbability)
        {
            _isolated = r < _options.PartitionProbability ? _peers[_random.Next(_peers.Count)].Id : 0;
            Log(_isolated == 0 ? "heal" : $"isolate {_isolated}");
            Faults += _isolated == 0 ? 0 : 1;
            return;
        }
        r -= _options.PartitionProbability + _options.HealProbability;
        if (!_options.InstantStorage && r < 0.25)
        {
            var peer = _peers[_random.Next(_peers.Count)];
            if (peer.PendingCount > 0)
            {
                peer.CompleteStorage(1 + _random.Next(peer.PendingCount));
                Drain(peer);
            }
            return;
        }
        Deliver();
    }

    private void Deliver()
    {
        if (!_network.TryTake(_random, out var from, out var to, out var message))
            return;
        if (_isolated != 0 && (from == _isolated || to == _isolated))
            return;   // a partition loses what crosses it; the channel stays ordered for what gets through
        if (!_quiet && _random.NextDouble() < _options.DropProbability)
        {
            Log($"drop {from}->{to} {message}");
            Faults++;
            return;
        }
        var peer = _peers[to - 1];
        if (!peer.Up)
            return;
        Delivered++;
        var kind = message.GetType().Name;
        DeliveredByKind[kind] = DeliveredByKind.GetValueOrDefault(kind) + 1;
        peer.Core!.Step(from, message);
        Drain(peer);
        _workload.Deliver();
    }

    private void StartPeer(SimPeer peer)
    {
        peer.Start();
        _checker.CheckApplied(peer, 0);   // what it restored from its own disk must be committed history too
        Log($"start {peer.Id} (incarnation {peer.Incarnation}, disk last {peer.Disk.LastZxid}, epochs {peer.Disk.AcceptedEpoch}/{peer.Disk.CurrentEpoch})");
        Drain(peer);
    }

    /// <summary>Hands a peer's output to the network, its disk queue and its state machine, then checks.</summary>
    private void Drain(SimPeer peer)
    {
        while (peer.Core is { HasReady: true } core)
        {
            var ready = core.TakeReady();
            foreach (var change in ready.RoleChanges)
            {
                Log($"peer {peer.Id}: {change.State}/{change.Phase} epoch {change.Epoch} ({change.Reason})");
                if (_options.KeepSnapshotOnTrunc && change.State == ServerState.Leading && change.Phase == ZabPhase.Discovery)
                {
                    peer.Disk.KeepsNewerSnapshotOnTrunc = true;
                    peer.Disk.SnapshotWholeLog();
                }
            }
            foreach (var (to, message) in ready.Messages)
            {
                if (_peers[to - 1].Up)
                    _network.Send(peer.Id, to, message);
            }
            peer.Enqueue(ready.Persist);
            var before = ready.Restore is null ? peer.Applied.Count : 0;
            peer.Apply(ready);
            _checker.CheckApplied(peer, before);
            _workload.AfterApply(peer, ready.Committed);
            if (core.EstablishedEpoch is not null)
            {
                foreach (var txn in ready.Committed)
                {
                    if (txn.Zxid.Epoch == core.EstablishedEpoch)
                        _checker.Acknowledge(txn.Zxid);
                }
            }
            _checker.CheckLeader(peer);
            if (_options.InstantStorage || _quiet)
                peer.CompleteStorage(peer.PendingCount);
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
