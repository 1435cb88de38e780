namespace Zk.Embedded.Tests.Consensus.Harness;

/// <summary>
/// Wing &amp; Gong's linearizability search with Lowe's memo (as Porcupine does), partitioned per register: is there
/// an order of the register's operations that respects real time (an op that returned before another was invoked
/// comes first) and that a register of (version, data) with conditional setData would produce? Successful writes,
/// BadVersion refusals (an observation: the version was not the expected one at that point) and linearizable reads
/// must all be placed; writes that ended in ConnectionLoss may be placed or left out. Bounded: past
/// <see cref="Budget"/> search steps the answer is "inconclusive", counted by the caller, never a pass or a failure.
/// </summary>
internal static class Linearizability
{
    public const int MaxOps = 128;
    public const int Budget = 200_000;

    internal enum Verdict { Linearizable, NotLinearizable, Inconclusive }

    /// <summary>Checks the register's operations; <paramref name="ops"/> holds only those on one register.</summary>
    public static Verdict Check(IReadOnlyList<SimOp> ops)
    {
        if (ops.Count > MaxOps)
            return Verdict.Inconclusive;
        var sorted = ops.OrderBy(o => o.Invoke).ThenBy(o => o.Id).ToArray();
        var required = UInt128.Zero;
        for (var i = 0; i < sorted.Length; i++)
        {
            if (sorted[i].Outcome is SimOutcome.Ok or SimOutcome.BadVersion)
                required |= UInt128.One << i;
        }
        var search = new Search(sorted, required);
        try
        {
            return search.Run(UInt128.Zero, (0, "")) ? Verdict.Linearizable : Verdict.NotLinearizable;
        }
        catch (BudgetExceeded)
        {
            return Verdict.Inconclusive;
        }
    }

    private sealed class BudgetExceeded : Exception;

    private sealed class Search(SimOp[] ops, UInt128 required)
    {
        private readonly HashSet<(UInt128, int, string)> _seen = [];
        private int _steps;

        public bool Run(UInt128 done, (int Version, string Data) state)
        {
            if ((done & required) == required)
                return true;
            if (!_seen.Add((done, state.Version, state.Data)))
                return false;
            if (++_steps > Budget)
                throw new BudgetExceeded();
            // Only ops invoked before the earliest return among those not yet placed may come next.
            var horizon = long.MaxValue;
            for (var i = 0; i < ops.Length; i++)
            {
                if ((done & (UInt128.One << i)) == 0)
                    horizon = Math.Min(horizon, ops[i].Return);
            }
            for (var i = 0; i < ops.Length && ops[i].Invoke <= horizon; i++)
            {
                if ((done & (UInt128.One << i)) != 0 || Step(ops[i], state) is not { } next)
                    continue;
                if (Run(done | (UInt128.One << i), next))
                    return true;
            }
            return false;
        }

        private static (int, string)? Step(SimOp op, (int Version, string Data) state) => op.Kind switch
        {
            SimOpKind.LinearRead => op.ReadVersion == state.Version && op.ReadData == state.Data ? state : null,
            _ when op.Outcome == SimOutcome.BadVersion => op.ExpectedVersion != state.Version ? state : null,
            _ => op.ExpectedVersion == state.Version ? (state.Version + 1, op.Data) : null,
        };
    }
}
