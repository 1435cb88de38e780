namespace Zk.Testing.History;

/// <summary>What a linearizability search concluded about one object's operations.</summary>
public enum LinearizabilityVerdict
{
    /// <summary>An order exists that respects real time and the object's rules.</summary>
    Linearizable,

    /// <summary>No such order exists: a violation.</summary>
    NotLinearizable,

    /// <summary>Too many operations or search steps to decide; neither a pass nor a failure.</summary>
    Inconclusive,
}

/// <summary>
/// One operation as the search sees it: invoked and returned at real-time instants, and what it does to the object's
/// state (false where it cannot have run in that state). A required operation must be placed; an optional one (a
/// write whose outcome the client never learned, Jepsen's <c>:info</c>) may be placed or left out.
/// </summary>
internal delegate bool StepFunction<TState>(TState state, out TState next);

internal readonly record struct SearchOp<TState>(long Invoke, long Return, bool Required, StepFunction<TState> Step);

/// <summary>
/// Wing &amp; Gong's linearizability search with Lowe's memo of (operations placed, state), as Porcupine does it, for
/// one object: is there an order of its operations, each placed between its invocation and its return, that the
/// object's step rules accept? Histories are checked per object (linearizability is compositional), which keeps each
/// search small. A depth-first search over one mutable placed-set: the memo keys it by a Zobrist hash (a random
/// 128-bit key per operation, XORed in and out), and each step looks only at the window of operations invoked before
/// the earliest pending return, so a long history with little concurrency costs about its length. Bounded by
/// <see cref="MaxOps"/> operations and <see cref="Budget"/> search steps: beyond either the verdict is
/// <see cref="LinearizabilityVerdict.Inconclusive"/>, which callers report and never count as a pass.
/// </summary>
internal static class LinearizabilitySearch
{
    public const int MaxOps = 100_000;
    public const int Budget = 2_000_000;

    public static LinearizabilityVerdict Check<TState>(IReadOnlyList<SearchOp<TState>> ops, TState initial) where TState : IEquatable<TState>
    {
        if (ops.Count > MaxOps)
            return LinearizabilityVerdict.Inconclusive;
        var search = new Search<TState>([.. ops.OrderBy(o => o.Invoke)]);
        var verdict = LinearizabilityVerdict.Inconclusive;
        // One frame per placed operation: a long history needs a deep stack, reserved (not committed) up front.
        var thread = new Thread(() => verdict = search.Run(initial), 256 * 1024 * 1024) { Name = "linearizability search" };
        thread.Start();
        thread.Join();
        return verdict;
    }

    private sealed class Search<TState>(SearchOp<TState>[] ops) where TState : IEquatable<TState>
    {
        private readonly bool[] _done = new bool[ops.Length];
        private readonly UInt128[] _keys = Keys(ops.Length);
        private readonly HashSet<(UInt128, TState)> _seen = [];
        private int _requiredLeft = ops.Count(o => o.Required);
        private UInt128 _hash;
        private int _steps;

        public LinearizabilityVerdict Run(TState initial)
        {
            try
            {
                return Place(0, initial) ? LinearizabilityVerdict.Linearizable : LinearizabilityVerdict.NotLinearizable;
            }
            catch (BudgetExceeded)
            {
                return LinearizabilityVerdict.Inconclusive;
            }
        }

        /// <summary>Places the rest, <paramref name="first"/> being the earliest-invoked operation not placed yet.</summary>
        private bool Place(int first, TState state)
        {
            if (_requiredLeft == 0)
                return true;
            if (!_seen.Add((_hash, state)))
                return false;
            if (++_steps > Budget)
                throw new BudgetExceeded();
            // Only an operation invoked before the earliest return among those not placed may come next; operations
            // are in invocation order and each returns after its invocation, so the scan stops at the horizon.
            var horizon = long.MaxValue;
            for (var i = first; i < ops.Length && ops[i].Invoke <= horizon; i++)
            {
                if (!_done[i])
                    horizon = Math.Min(horizon, ops[i].Return);
            }

            for (var i = first; i < ops.Length && ops[i].Invoke <= horizon; i++)
            {
                if (_done[i] || !ops[i].Step(state, out var next))
                    continue;
                _done[i] = true;
                _hash ^= _keys[i];
                if (ops[i].Required)
                    _requiredLeft--;
                var nextFirst = first;
                while (nextFirst < ops.Length && _done[nextFirst])
                    nextFirst++;
                if (Place(nextFirst, next))
                    return true;
                _done[i] = false;
                _hash ^= _keys[i];
                if (ops[i].Required)
                    _requiredLeft++;
            }

            return false;
        }

        private static UInt128[] Keys(int count)
        {
            // Fixed seed: the same history gives the same search, run after run.
            var random = new Random(0x5EED);
            var keys = new UInt128[count];
            for (var i = 0; i < count; i++)
                keys[i] = new UInt128((ulong)random.NextInt64(), (ulong)random.NextInt64());
            return keys;
        }
    }

    private sealed class BudgetExceeded : Exception;
}
