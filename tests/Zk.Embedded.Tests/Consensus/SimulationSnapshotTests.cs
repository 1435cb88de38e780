using Xunit.Abstractions;
using Zk.Testing.Simulation;

namespace Zk.Embedded.Tests.Consensus;

/// <summary>
/// The simulator with periodic snapshots and the in-memory store's compaction (issue 13 point f): every few applied
/// txns each peer queues a snapshot of its applied state behind its storage requests, and the disk drops the log it
/// covers. Crashes then restart peers from compacted disks and lagging peers sync by SNAP from the window; the ZAB
/// invariants and the linearizability checker must hold, and no TRUNC may cut below a kept snapshot (PersistChecks),
/// which is how a snapshot holding an uncommitted txn would show.
/// </summary>
public sealed class SimulationSnapshotTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(3, false)]
    [InlineData(3, true)]
    [InlineData(5, false)]
    public void Seeded_runs_with_periodic_snapshots_and_compaction_keep_the_invariants(int voters, bool instantStorage)
    {
        var runs = new ConsensusSimulationTests(output);
        var (compactions, restarts, acknowledged) = (0, 0, 0L);
        foreach (var seed in ConsensusSimulationTests.Seeds().Take(20))
        {
            var sim = runs.Run(new SimOptions { Seed = seed, Voters = voters, InstantStorage = instantStorage, SnapCount = 10 });
            compactions += sim.Peers.Sum(p => p.Disk.Compactions);
            restarts += sim.Crashes;
            acknowledged += sim.Checker.Acknowledged;
        }

        output.WriteLine($"{compactions} compactions, {restarts} crashes, {acknowledged} acknowledged txns");
        Assert.True(acknowledged > 0, "expected the runs to commit some txns");
        Assert.True(compactions > 0, "expected some periodic snapshots to compact a disk");
        Assert.True(restarts > 0, "expected some crashes, so that peers restart from compacted disks");
    }
}
