namespace Zk.Embedded.Tests.Consensus.Harness;

/// <summary>What a set of runs did, for the test output and docs/simulation.md's figures.</summary>
internal sealed class SimTotals
{
    private readonly Dictionary<string, int> _syncs = [];

    public int Runs { get; private set; }
    public long Steps { get; private set; }
    public int Ops { get; private set; }
    public int OkOps { get; private set; }
    public int UnknownOps { get; private set; }
    public int Faults { get; private set; }
    public int Crashes { get; private set; }
    public int Acknowledged { get; private set; }
    public int Epochs { get; private set; }
    public int Linearizable { get; private set; }
    public int Inconclusive { get; private set; }

    public void Add(Simulation sim)
    {
        Runs++;
        Steps += sim.Steps;
        Ops += sim.History.Ops.Count;
        OkOps += sim.History.Ops.Count(o => o.Outcome == SimOutcome.Ok);
        UnknownOps += sim.History.Ops.Count(o => o.Outcome == SimOutcome.Unknown);
        Faults += sim.Faults;
        Crashes += sim.Crashes;
        Acknowledged += sim.Checker.Acknowledged;
        Epochs += sim.Checker.EpochsEstablished;
        Linearizable += sim.History.Linearizable;
        Inconclusive += sim.History.Inconclusive;
        foreach (var kind in new[] { "Diff", "Trunc", "Snap" })
            _syncs[kind] = _syncs.GetValueOrDefault(kind) + sim.DeliveredByKind.GetValueOrDefault(kind);
    }

    public string Describe(TimeSpan elapsed) =>
        $"{Runs} runs, {Steps} steps, {Ops} client ops ({OkOps} ok, {UnknownOps} unknown), {Acknowledged} txns committed by leaders, "
        + $"{Faults} faults ({Crashes} crashes), {Epochs} epochs; syncs: {_syncs["Diff"]} DIFF, {_syncs["Trunc"]} TRUNC, {_syncs["Snap"]} SNAP; "
        + $"registers linearizable {Linearizable}, inconclusive {Inconclusive}; "
        + $"{Ops / Math.Max(elapsed.TotalSeconds, 1e-3):F0} ops and {Steps / Math.Max(elapsed.TotalSeconds, 1e-3):F0} steps per wall second ({elapsed.TotalSeconds:F1} s)";
}
