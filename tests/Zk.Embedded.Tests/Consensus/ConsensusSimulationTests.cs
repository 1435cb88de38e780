using Xunit.Abstractions;
using Zk.Embedded.Tests.Consensus.Harness;

namespace Zk.Embedded.Tests.Consensus;

/// <summary>
/// Seeded whole-ensemble runs of the consensus core: message reordering across channels, drops, crashes that lose
/// unsynced writes, delayed or instant fsyncs. A fixed set of seeds runs every time; set ZK_CONSENSUS_SEEDS=n for
/// n more per configuration, or ZK_SEED=s to replay one.
/// </summary>
public sealed class ConsensusSimulationTests(ITestOutputHelper output)
{
    private const int FixedSeeds = 50;

    public static TheoryData<int, int, bool> Ensembles => new()
    {
        { 3, 0, false },
        { 3, 0, true },
        { 5, 0, false },
        { 3, 1, false },
    };

    [Theory]
    [MemberData(nameof(Ensembles))]
    public void Seeded_runs_keep_one_leader_per_epoch_agreeing_prefixes_and_every_acknowledged_txn(int voters, int observers, bool instantStorage)
    {
        var totals = (Acked: 0, Crashes: 0, Epochs: 0);
        var syncs = (Diff: 0, Trunc: 0, Snap: 0);
        foreach (var seed in Seeds())
        {
            var options = new SimOptions { Seed = seed, Voters = voters, Observers = observers, InstantStorage = instantStorage };
            var sim = Run(options);
            totals = (totals.Acked + sim.Checker.Acknowledged, totals.Crashes + sim.Crashes, totals.Epochs + sim.Checker.EpochsEstablished);
            syncs = (syncs.Diff + Count(sim, "Diff"), syncs.Trunc + Count(sim, "Trunc"), syncs.Snap + Count(sim, "Snap"));
        }
        output.WriteLine($"acknowledged {totals.Acked} txns over {totals.Crashes} crashes and {totals.Epochs} established epochs; syncs: {syncs.Diff} DIFF, {syncs.Trunc} TRUNC, {syncs.Snap} SNAP");
        Assert.True(totals.Acked > 0, "expected the runs to commit some txns");
    }

    private static int Count(Simulation sim, string kind) => sim.DeliveredByKind.GetValueOrDefault(kind);

    internal Simulation Run(SimOptions options)
    {
        var sim = new Simulation(options);
        try
        {
            sim.Run();
        }
        catch (Exception e) when (e is ConsensusViolation or InvalidOperationException)
        {
            output.WriteLine($"FAILED {options} (set ZK_SEED={options.Seed} to replay)\n{sim.Trace}");
            throw new ConsensusViolation($"{options}: {e.Message}");
        }
        return sim;
    }

    internal static IEnumerable<int> Seeds()
    {
        if (int.TryParse(Environment.GetEnvironmentVariable("ZK_SEED"), out var one))
        {
            yield return one;
            yield break;
        }
        var count = FixedSeeds;
        if (int.TryParse(Environment.GetEnvironmentVariable("ZK_CONSENSUS_SEEDS"), out var extra))
            count += extra;
        for (var seed = 1; seed <= count; seed++)
            yield return seed;
    }
}
