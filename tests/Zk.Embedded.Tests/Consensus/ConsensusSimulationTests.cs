using System.Diagnostics;
using Xunit.Abstractions;
using Zk.Testing.Simulation;

namespace Zk.Embedded.Tests.Consensus;

/// <summary>
/// Seeded whole-ensemble runs of the consensus core with client sessions on real trees (docs/simulation.md): message
/// reordering across channels, drops, partitions (one-way too), crashes that lose unsynced writes or keep some and tear
/// the last, paused peers, stalled and jumping clocks, slow disks, delayed or instant fsyncs. A
/// fixed set of seeds runs every time; ZK_SIM_RUNS=n runs n seeds per configuration instead (from ZK_SIM_FIRST_SEED,
/// 1 unless set, so a long run can go on where the last one stopped), ZK_SIM_SEED=s replays one and prints its trace hash.
/// </summary>
public sealed class ConsensusSimulationTests(ITestOutputHelper output)
{
    private const int FixedSeeds = 40;

    /// <summary>
    /// Voters, observers, instant fsyncs, whether the peers talk through the real in-memory transport, and whether each
    /// keeps its state in the real member's LiteDB store (with periodic snapshots and purges) instead of the disk model.
    /// </summary>
    public static TheoryData<int, int, bool, bool, bool> Ensembles => new()
    {
        { 3, 0, false, false, false },
        { 3, 0, true, false, false },
        { 5, 0, false, false, false },
        { 3, 1, false, false, false },
        { 3, 1, false, true, false },
        { 3, 0, false, false, true },
    };

    /// <summary>
    /// The peers really keep their state in the member's store (its files, LiteDB's txn log among them): what
    /// <see cref="SimOptions.LiteDbStore"/> must reach. While the run's files exist (before it is disposed).
    /// </summary>
    internal static void AssertOnTheLiteDbStore(IEnumerable<SimPeer> peers)
    {
        var count = 0;
        foreach (var peer in peers)
        {
            var disk = Assert.IsType<StoreDisk>(peer.Disk);
            Assert.True(File.Exists(Path.Combine(disk.DataDir, Zk.Embedded.Storage.TxnLog.DataFileName)), $"expected peer {peer.Id}'s txn log in {disk.DataDir}");
            count++;
        }

        Assert.True(count > 0, "expected peers to check");
    }

    [Theory]
    [MemberData(nameof(Ensembles))]
    public void Seeded_runs_keep_the_ZAB_invariants_and_a_linearizable_client_history(int voters, int observers, bool instantStorage, bool overTransport, bool liteDbStore)
    {
        var totals = new SimTotals();
        var clock = Stopwatch.StartNew();
        foreach (var seed in Seeds())
        {
            var options = new SimOptions
            {
                Seed = seed, Voters = voters, Observers = observers, InstantStorage = instantStorage, OverTransport = overTransport,
                LiteDbStore = liteDbStore, SnapCount = liteDbStore ? SimOptions.StoreSnapCount : 0,
            };
            using var sim = Run(options);
            totals.Add(sim);
            if (liteDbStore)
                AssertOnTheLiteDbStore(sim.Peers);
        }
        output.WriteLine($"{voters} voters, {observers} observers, {(instantStorage ? "instant" : "delayed")} fsync{(overTransport ? ", over the in-memory transport" : "")}{(liteDbStore ? ", LiteDB stores" : "")}: {totals.Describe(clock.Elapsed)}");
        // What the runs exercised, over the seeds together (one replayed seed may have been too faulty to do much; its
        // invariants were checked all the same).
        if (SingleSeed() is null)
        {
            Assert.True(totals.Acknowledged > 0, "expected the runs to commit some txns");
            Assert.True(totals.OkOps > totals.Runs, $"expected more than one successful client operation per run, got {totals.OkOps} in {totals.Runs} runs");
            Assert.True(totals.Linearizable > 0, "expected some components of the history (registers and queues) to be checked linearizable");
            Assert.True(totals.BadVersionOps > 0, "expected some BadVersion refusals to check as observations");
            foreach (var kind in new[] { "crash", "drop", "partition", "one-way partition", "pause", "clock stall", "clock jump", "slow disk", liteDbStore ? "unsynced writes kept at crash" : "torn last record" })
                Assert.True(totals.FaultsOf(kind) > 0, $"expected the seeds to inject some '{kind}' faults, got none");
            if (liteDbStore)
                Assert.True(totals.Compactions > 0, "expected the stores to keep some periodic snapshots");
            Assert.Equal(totals.FaultsOf("torn last record"), totals.TornDropped);
            Assert.True(totals.WatchEvents > 0, $"expected some watches to fire, got none of {totals.Watches} set");
            Assert.True(totals.Rewatches > 0, "expected some clients to set their watches again on a new connection");
            Assert.True(totals.Reattached > 0 && totals.ReattachRefused > 0, $"expected sessions reattached and some refused by a peer behind the client, got {totals.Reattached} and {totals.ReattachRefused}");
            Assert.True(totals.Expirations > 0, "expected some sessions to expire");
            Assert.True(totals.Forwarded > 0 && totals.ForwardedReplies > 0, $"expected learners to forward writes to their leader and get replies back, got {totals.Forwarded} and {totals.ForwardedReplies}");
        }
    }

    [Fact]
    public void The_same_seed_gives_the_same_trace_hash()
    {
        var options = new SimOptions { Seed = 4242, Observers = 1 };
        using var first = Run(options);
        using var second = Run(options);
        Assert.True(first.History.Ops.Count > 0, "expected the run to record client operations");
        Assert.Equal(first.TraceHash, second.TraceHash);
        using var other = Run(options with { Seed = 4243 });
        Assert.NotEqual(first.TraceHash, other.TraceHash);
    }

    internal Simulation Run(SimOptions options)
    {
        var sim = new Simulation(options);
        try
        {
            sim.Run();
        }
        catch (Exception e) when (e is ConsensusViolation or InvalidOperationException or InvalidDataException)
        {
            output.WriteLine($"FAILED {options} trace hash {sim.TraceHash} (ZK_SIM_SEED={options.Seed} replays it)\n{sim.Trace}");
            sim.Dispose();
            throw new ConsensusViolation($"{options}: {e.Message}");
        }
        if (SingleSeed() is not null)
            output.WriteLine($"{options}: trace hash {sim.TraceHash}, {sim.History.Ops.Count} ops, {sim.Faults} faults");
        return sim;
    }

    internal static int? SingleSeed() =>
        int.TryParse(Environment.GetEnvironmentVariable("ZK_SIM_SEED") ?? Environment.GetEnvironmentVariable("ZK_SEED"), out var one) ? one : null;

    internal static IEnumerable<int> Seeds()
    {
        if (SingleSeed() is { } one)
        {
            yield return one;
            yield break;
        }
        var count = int.TryParse(Environment.GetEnvironmentVariable("ZK_SIM_RUNS"), out var runs) ? runs : FixedSeeds;
        var first = int.TryParse(Environment.GetEnvironmentVariable("ZK_SIM_FIRST_SEED"), out var from) ? from : 1;
        for (var seed = first; seed < first + count; seed++)
            yield return seed;
    }
}
