namespace Zk.Testing.Simulation;

/// <summary>One simulated run: the ensemble, the fault rates and the workload, all decided by <see cref="Seed"/>.</summary>
internal sealed record SimOptions
{
    public required int Seed { get; init; }
    public int Voters { get; init; } = 3;
    public int Observers { get; init; }
    /// <summary>Scheduler steps with faults, before the quiet phase.</summary>
    public int Steps { get; init; } = 3000;
    public int QuietSteps { get; init; } = 6000;
    public double TickProbability { get; init; } = 0.03;
    public double DropProbability { get; init; } = 0.01;
    /// <summary>Per step: crash an up peer (a restart comes later).</summary>
    public double CrashProbability { get; init; } = 0.01;
    public double RestartProbability { get; init; } = 0.02;
    /// <summary>Per step: a client acts (connects, moves, writes or reads).</summary>
    public double ClientProbability { get; init; } = 0.08;
    public int Clients { get; init; } = 5;
    /// <summary>A session the leader has not heard of for this many steps expires (about 9 ticks at the default tick rate; a client acts about every 60 steps).</summary>
    public int SessionTimeoutSteps { get; init; } = 300;
    /// <summary>Per client action: move to another serving peer instead.</summary>
    public double MoveProbability { get; init; } = 0.03;
    /// <summary>Operations per run (the linearizability search is bounded by the ops per register).</summary>
    public int MaxOps { get; init; } = 150;
    /// <summary>Bugs the core commits on purpose (the planted-fault tests).</summary>
    /// <summary>Planted in the harness: a new leader snapshots its whole log and TRUNC keeps newer snapshots.</summary>
    public bool KeepSnapshotOnTrunc { get; init; }
    /// <summary>Planted in the harness: a "linearizable" read answered by the client's own peer, with no barrier.</summary>
    public bool LinearReadsWithoutBarrier { get; init; }
    public Zk.Embedded.Consensus.PlantedFaults Faults { get; init; } = Zk.Embedded.Consensus.PlantedFaults.None;
    /// <summary>Per step: cut one random peer off from all others (both ways) until a later heal.</summary>
    public double PartitionProbability { get; init; } = 0.002;
    public double HealProbability { get; init; } = 0.01;
    /// <summary>True: half the partitions cut one direction of one pair (A hears B, B does not hear A) instead of isolating a peer.</summary>
    public bool OneWayPartitions { get; init; } = true;
    /// <summary>Per step: pause a peer (a GC), stall or jump its clock, or slow its disk for a while (<see cref="SimFaults"/>).</summary>
    public double LongFaultProbability { get; init; } = 0.004;
    /// <summary>A crash may leave part of the unsynced writes on disk, the last one possibly torn.</summary>
    public bool CrashesWriteUnsynced { get; init; } = true;
    /// <summary>Planted in the harness: the leader builds txns for a session it no longer knows (no checkSession).</summary>
    public bool SkipSessionCheck { get; init; }
    /// <summary>Planted in the harness: a connection sends a watch event after the next reply instead of before it.</summary>
    public bool WatchEventsAfterReply { get; init; }
    /// <summary>Planted in the harness: a connection passes on one event per path and drops the rest (persistent watches treated as one-shot).</summary>
    public bool OneEventPerPath { get; init; }
    /// <summary>Planted in the harness: removeWatches answers but leaves the persistent watch in place.</summary>
    public bool IgnoreRemoveWatches { get; init; }
    /// <summary>Planted in the harness: a client sets its watches again with its new peer's zxid instead of the newest it had seen (changes made while it was away fire nothing).</summary>
    public bool RewatchFromPeerZxid { get; init; }
    /// <summary>Planted in the harness: the leader's expiries are lost before they are proposed (sessions never expire).</summary>
    public bool DropExpiries { get; init; }
    /// <summary>Planted in the harness: the leader's pipeline loses the syncs learners forward (received, never answered).</summary>
    public bool DropForwardedSyncs { get; init; }
    /// <summary>Planted in the harness: the store reads a torn last record back as a txn (no record checksum).</summary>
    public bool KeepTornRecord { get; init; }
    /// <summary>True: every persist request is durable as soon as it is made; false: the scheduler fsyncs at random.</summary>
    public bool InstantStorage { get; init; }
    /// <summary>True: the peers talk through the real in-memory transport, every message encoded (<see cref="TransportNetwork"/>).</summary>
    public bool OverTransport { get; init; }
    /// <summary>True: each peer keeps its state in the real member's store (<see cref="StoreDisk"/>: LiteDB log, epoch and snapshot files in a temporary directory) instead of the disk model.</summary>
    public bool LiteDbStore { get; init; }
    /// <summary>Applied txns between periodic snapshots for runs on the real store: several per run, so restarts recover from one and purges run.</summary>
    public const int StoreSnapCount = 12;
    /// <summary>Small windows force SNAP; ZooKeeper's default is 500.</summary>
    public int CommittedLogWindow { get; init; } = 8;
    /// <summary>Periodic snapshots (with the in-memory store's compaction) every this many applied txns; 0 none.</summary>
    public int SnapCount { get; init; }
    /// <summary>
    /// An application's scenario runs instead of the workload's clients (<see cref="DeterministicEnsemble"/>): its in-process
    /// sessions keep their watches across their member's role changes and SNAPs, as on a real member.
    /// </summary>
    public bool Scenario { get; init; }

    public override string ToString() =>
        $"seed={Seed} voters={Voters} observers={Observers} storage={(InstantStorage ? "instant" : "delayed")}{(LiteDbStore ? " store=litedb" : "")} window={CommittedLogWindow}{(OverTransport ? " transport=in-memory" : "")}{(Scenario ? " scenario" : "")}{(Faults.Any ? $" planted={Faults}" : "")}{(KeepSnapshotOnTrunc ? " planted=KeepSnapshotOnTrunc" : "")}{(LinearReadsWithoutBarrier ? " planted=LinearReadsWithoutBarrier" : "")}{(KeepTornRecord ? " planted=KeepTornRecord" : "")}{(SkipSessionCheck ? " planted=SkipSessionCheck" : "")}{(WatchEventsAfterReply ? " planted=WatchEventsAfterReply" : "")}{(OneEventPerPath ? " planted=OneEventPerPath" : "")}{(IgnoreRemoveWatches ? " planted=IgnoreRemoveWatches" : "")}{(RewatchFromPeerZxid ? " planted=RewatchFromPeerZxid" : "")}{(DropExpiries ? " planted=DropExpiries" : "")}{(DropForwardedSyncs ? " planted=DropForwardedSyncs" : "")}";
}
