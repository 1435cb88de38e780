using Zk.Testing.History;

namespace Zk.Testing.Simulation;

/// <summary>
/// The simulator's registers checked with Zk.Testing's linearizability search (<see cref="LinearizabilitySearch"/>):
/// is there an order of one register's operations that respects real time (scheduler steps) and that a register of
/// (version, data) with conditional setData would produce? Successful writes, BadVersion refusals (an observation: the
/// version was not the expected one at that point) and linearizable reads must all be placed; writes that ended in
/// ConnectionLoss may be placed or left out. Inconclusive past the search's bounds, counted by the caller.
/// </summary>
internal static class Linearizability
{
    /// <summary>Checks the register's operations; <paramref name="ops"/> holds only those on one register.</summary>
    public static LinearizabilityVerdict Check(IReadOnlyList<SimOp> ops) =>
        LinearizabilitySearch.Check(ops.OrderBy(o => o.Id).Select(ToSearch).ToList(), new Register(0, ""));

    private readonly record struct Register(int Version, string Data);

    private static SearchOp<Register> ToSearch(SimOp op) => new(op.Invoke, op.Return, op.Outcome is SimOutcome.Ok or SimOutcome.BadVersion,
        (Register state, out Register next) =>
        {
            next = state;
            if (op.Kind == SimOpKind.LinearRead)
                return op.ReadVersion == state.Version && op.ReadData == state.Data;
            if (op.Outcome == SimOutcome.BadVersion)
                return op.ExpectedVersion != state.Version;
            next = new Register(state.Version + 1, op.Data);
            return op.ExpectedVersion == state.Version;
        });
}
