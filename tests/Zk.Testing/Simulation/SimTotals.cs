namespace Zk.Testing.Simulation;

/// <summary>What a set of runs did, for the test output and docs/simulation.md's figures.</summary>
internal sealed class SimTotals
{
    private readonly Dictionary<string, int> _syncs = [];
    private readonly SortedDictionary<string, int> _faults = [];

    public int Runs { get; private set; }
    public long Steps { get; private set; }
    public int Ops { get; private set; }
    public int OkOps { get; private set; }
    public int UnknownOps { get; private set; }
    /// <summary>Conditional writes refused with BadVersion (each one an observation in the linearizability search).</summary>
    public int BadVersionOps { get; private set; }
    public int Watches { get; private set; }
    public int PersistentWatches { get; private set; }
    /// <summary>Watches set by an exists on a node that was not there (the next sequential name of a queue).</summary>
    public int MissingNodeWatches { get; private set; }
    public int NodeCreatedEvents { get; private set; }
    /// <summary>Persistent watches removed with removeWatches.</summary>
    public int RemovedWatches { get; private set; }
    public int WatchEvents { get; private set; }
    /// <summary>setWatches sent by clients on a new connection, and the watches they fired at once.</summary>
    public int Rewatches { get; private set; }
    public int RewatchFired { get; private set; }
    public int Reattached { get; private set; }
    public int ReattachRefused { get; private set; }
    public int ReattachExpired { get; private set; }
    public int ReattachCatchUps { get; private set; }
    public int Expirations { get; private set; }
    /// <summary>Writes learners forwarded to their leader (REQUESTs delivered) and the REPLYs delivered back.</summary>
    public int Forwarded { get; private set; }
    public int ForwardedReplies { get; private set; }
    public int SessionMoved { get; private set; }
    public int ForwardsUnanswered { get; private set; }
    public int QuietRequests { get; private set; }
    public int ConnectionLossReplies { get; private set; }
    public int Faults { get; private set; }
    public int Crashes { get; private set; }
    public int Acknowledged { get; private set; }
    public int Epochs { get; private set; }
    public int Linearizable { get; private set; }
    public int Inconclusive { get; private set; }
    /// <summary>Torn last records the disks cut at restart.</summary>
    public int TornDropped { get; private set; }
    /// <summary>Periodic snapshots the disks kept.</summary>
    public int Compactions { get; private set; }

    /// <summary>How many faults of <paramref name="kind"/> were injected in all.</summary>
    public int FaultsOf(string kind) => _faults.GetValueOrDefault(kind);

    public void Add(Simulation sim)
    {
        Runs++;
        Steps += sim.Steps;
        Ops += sim.History.Ops.Count;
        OkOps += sim.History.Ops.Count(o => o.Outcome == SimOutcome.Ok);
        UnknownOps += sim.History.Ops.Count(o => o.Outcome == SimOutcome.Unknown);
        BadVersionOps += sim.History.Ops.Count(o => o.Outcome == SimOutcome.BadVersion);
        Watches += sim.History.Watches.Count;
        PersistentWatches += sim.History.Watches.Count(w => w.Kind is Zk.Embedded.Watches.WatchKinds.Persistent or Zk.Embedded.Watches.WatchKinds.PersistentRecursive);
        WatchEvents += sim.History.Events.Count;
        MissingNodeWatches += sim.History.Watches.Count(w => w.Path.StartsWith("/q", StringComparison.Ordinal) && w.Kind == Zk.Embedded.Watches.WatchKinds.Data);
        NodeCreatedEvents += sim.History.Events.Count(e => e.Type == Zk.Embedded.Api.EventType.NodeCreated);
        RemovedWatches += sim.History.Watches.Count(w => w.RemovedAt is not null);
        Expirations += sim.History.Expirations.Count;
        Rewatches += sim.History.Rewatches;
        RewatchFired += sim.History.RewatchFired;
        Reattached += sim.History.Reattached;
        ReattachRefused += sim.History.ReattachRefused;
        ReattachExpired += sim.History.ReattachExpired;
        ReattachCatchUps += sim.History.ReattachCatchUps;
        Forwarded += sim.History.Forwarded;
        ForwardedReplies += sim.DeliveredByKind.GetValueOrDefault(nameof(Zk.Embedded.Consensus.ForwardedReply));
        SessionMoved += sim.History.SessionMoved;
        ForwardsUnanswered += sim.History.ForwardsUnanswered;
        QuietRequests += sim.History.QuietRequests;
        ConnectionLossReplies += sim.History.ConnectionLossReplies;
        Faults += sim.Faults;
        Crashes += sim.Crashes;
        Acknowledged += sim.Checker.Acknowledged;
        Epochs += sim.Checker.EpochsEstablished;
        Linearizable += sim.History.Linearizable;
        Inconclusive += sim.History.Inconclusive;
        foreach (var (kind, n) in sim.FaultsByKind)
            _faults[kind] = _faults.GetValueOrDefault(kind) + n;
        TornDropped += sim.Peers.Sum(p => p.Disk.TornDropped);
        Compactions += sim.Peers.Sum(p => p.Disk.Compactions);
        foreach (var kind in new[] { "Diff", "Trunc", "Snap" })
            _syncs[kind] = _syncs.GetValueOrDefault(kind) + sim.DeliveredByKind.GetValueOrDefault(kind);
    }

    public string Describe(TimeSpan elapsed) =>
        $"{Runs} runs, {Steps} steps, {Ops} client ops ({OkOps} ok, {BadVersionOps} BadVersion, {UnknownOps} unknown, {ConnectionLossReplies} of them answered ConnectionLoss; {SessionMoved} SessionMoved; {Forwarded} forwarded to the leader, {ForwardedReplies} replies back, {ForwardsUnanswered} times forwarded writes failed unanswered; {QuietRequests} sent in the quiet phase, none left unanswered), {Acknowledged} txns committed by leaders, "
        + $"{Faults} faults ({string.Join(", ", _faults.Select(f => $"{f.Value} {f.Key}"))}; {TornDropped} torn records cut at restart, {Compactions} periodic snapshots kept), {Epochs} epochs; "
        + $"syncs: {_syncs["Diff"]} DIFF, {_syncs["Trunc"]} TRUNC, {_syncs["Snap"]} SNAP; "
        + $"linearizable components {Linearizable}, inconclusive {Inconclusive}; {Watches} watches set ({PersistentWatches} persistent, {RemovedWatches} of them removed, {MissingNodeWatches} on missing nodes), {WatchEvents} events ({NodeCreatedEvents} NodeCreated); {Reattached} sessions reattached ({ReattachRefused} refused, {ReattachExpired} expired, {ReattachCatchUps} caught up by a read index first); {Rewatches} setWatches on reconnect ({RewatchFired} watches fired at once); {Expirations} session expiries proposed; "
        + $"{Ops / Math.Max(elapsed.TotalSeconds, 1e-3):F0} ops and {Steps / Math.Max(elapsed.TotalSeconds, 1e-3):F0} steps per wall second ({elapsed.TotalSeconds:F1} s)";
}
