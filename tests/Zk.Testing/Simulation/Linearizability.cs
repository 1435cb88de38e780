using System.Globalization;
using System.Runtime.CompilerServices;
using Zk.Testing.History;

namespace Zk.Testing.Simulation;

/// <summary>
/// The simulator's client history checked with Zk.Testing's linearizability search (<see cref="LinearizabilitySearch"/>)
/// against a model of the part of the tree the workload writes: each register (<see cref="SimTree.Register"/>) as its
/// (version, data), from (0, "") as genesis makes it, and each queue (<see cref="SimTree.Queue"/>) as its child counter,
/// from 0: the parent's cversion that PrepRequestProcessor appends (%010d) to a sequential name, which here counts the
/// creates, since nothing under a queue is ever deleted and a failed multi changes nothing. Is there an order of the
/// operations that respects real time (scheduler steps) and that this tree would produce: conditional setData; a multi
/// whose setData and sequential create take effect together or not at all; each sequential create named after its
/// queue's counter; linearizable reads seeing the register? Successful writes, BadVersion refusals (an observation: the
/// version was not the expected one at that point) and linearizable reads must all be placed; writes in doubt
/// (ConnectionLoss, or no reply) may be placed or left out, and placed, one a leader proposed has the name it proposed
/// (<see cref="SimOp.CreatedPath"/>). Operations on disjoint sets of nodes commute, so a history is checked per
/// connected component of the nodes its operations touch together (<see cref="Components"/>), which keeps each search
/// small. Inconclusive past the search's bounds, counted by the caller.
/// </summary>
internal static class Linearizability
{
    private static readonly string[] RegisterPaths = [.. Enumerable.Range(0, SimTree.Registers).Select(SimTree.Register)];
    private static readonly string[] QueuePaths = [.. Enumerable.Range(0, SimTree.Queues).Select(SimTree.Queue)];

    /// <summary>Operations that touch no node in common with those of any other component, and the nodes they touch.</summary>
    internal sealed record Component(IReadOnlyList<string> Paths, IReadOnlyList<SimOp> Ops);

    /// <summary>Splits <paramref name="ops"/> by the nodes they touch (a multi joins its register and its queue), components in path order.</summary>
    public static IReadOnlyList<Component> Components(IEnumerable<SimOp> ops)
    {
        var links = new Dictionary<string, string>();
        string Root(string path)
        {
            while (links.TryGetValue(path, out var next) && next != path)
                path = next;
            return path;
        }

        var touching = ops.Select(op => (Op: op, Paths: Touches(op))).ToList();
        foreach (var (_, paths) in touching)
        {
            foreach (var path in paths)
                links.TryAdd(path, path);
            foreach (var path in paths.Skip(1))
                links[Root(path)] = Root(paths[0]);
        }
        return
        [
            .. touching.GroupBy(t => Root(t.Paths[0]))
                .Select(g => new Component([.. g.SelectMany(t => t.Paths).Distinct().Order(StringComparer.Ordinal)], [.. g.Select(t => t.Op)]))
                .OrderBy(c => c.Paths[0], StringComparer.Ordinal),
        ];
    }

    /// <summary>Checks the operations (a component's, or any set of them: the model holds every register and queue).</summary>
    public static LinearizabilityVerdict Check(IReadOnlyList<SimOp> ops)
    {
        // In-doubt creates no leader proposed differ only in when they were invoked (they never return): placing
        // those of a queue in invocation order only, the earliest left first, loses no linearization (swap two and
        // the counters go the same way) and spares the search every other order and subset of them, which in long
        // runs exceeded its budget.
        var unnamedRanks = ops.Where(IsUnnamedCreate).GroupBy(o => o.Path)
            .SelectMany(queue => queue.OrderBy(o => o.Invoke).ThenBy(o => o.Id).Select((op, rank) => (op, rank)))
            .ToDictionary(r => r.op, r => r.rank);
        return LinearizabilitySearch.Check([.. ops.OrderBy(o => o.Id).SelectMany(o => ToSearch(o, unnamedRanks.GetValueOrDefault(o)))], TreeModel.Genesis);
    }

    /// <summary>The sequence number of a sequential node's name (its last 10 characters).</summary>
    public static int SequenceOf(string createdPath) => int.Parse(createdPath.AsSpan()[^10..], CultureInfo.InvariantCulture);

    private static string[] Touches(SimOp op) => op.Kind switch
    {
        SimOpKind.Multi when op.Outcome == SimOutcome.BadVersion => [op.Path],   // refused, it only saw its register's version
        SimOpKind.Multi => [op.Path, op.Queue ?? throw new ArgumentException($"{op} names no queue", nameof(op))],
        _ => [op.Path],
    };


    private static bool IsUnnamedCreate(SimOp op) => op is { Kind: SimOpKind.CreateSequential, CreatedPath: null, Outcome: SimOutcome.Unknown };

    /// <summary>The operation's step(s); <paramref name="unnamedRank"/> orders an unnamed create among its queue's.</summary>
    private static IEnumerable<SearchOp<TreeModel>> ToSearch(SimOp op, int unnamedRank)
    {
        var required = op.Outcome is SimOutcome.Ok or SimOutcome.BadVersion;
        SearchOp<TreeModel> Placed(StepFunction<TreeModel> step) => new(op.Invoke, op.Return, required, step);

        switch (op.Kind)
        {
            case SimOpKind.LinearRead when !required:
                break;   // in doubt, it saw nothing the client heard of
            case SimOpKind.LinearRead:
                var read = RegisterOf(op);
                var seen = new Register(op.ReadVersion, op.ReadData);
                yield return Placed((TreeModel tree, out TreeModel next) =>
                {
                    next = tree;
                    return tree.RegisterAt(read) == seen;
                });
                break;
            case SimOpKind.SetData or SimOpKind.Multi when op.Outcome == SimOutcome.BadVersion:
                // A refused multi changed nothing: its create cannot fail, so it was its setData's version.
                var refused = RegisterOf(op);
                yield return Placed((TreeModel tree, out TreeModel next) =>
                {
                    next = tree;
                    return tree.RegisterAt(refused).Version != op.ExpectedVersion;
                });
                break;
            case SimOpKind.SetData:
                var written = RegisterOf(op);
                yield return Placed((TreeModel tree, out TreeModel next) =>
                {
                    next = tree.Written(written, op);
                    return tree.RegisterAt(written).Version == op.ExpectedVersion;
                });
                break;
            case SimOpKind.Multi:
                // Named, in doubt or not, it is one a leader proposed; a request is proposed once, so committed, it
                // took that name. In doubt and never proposed, any next name of its queue will do.
                var register = RegisterOf(op);
                var queue = QueueOf(op.Queue!);
                int? sequence = op.CreatedPath is { } created ? SequenceOf(created) : null;
                yield return Placed((TreeModel tree, out TreeModel next) =>
                {
                    next = tree.Written(register, op).Created(queue);
                    return tree.RegisterAt(register).Version == op.ExpectedVersion && (sequence is null || tree.CounterAt(queue) == sequence);
                });
                break;
            case SimOpKind.CreateSequential when op.CreatedPath is { } name:
                var parent = QueueOf(op.Path);
                var number = SequenceOf(name);
                yield return Placed((TreeModel tree, out TreeModel next) =>
                {
                    next = tree.Created(parent);
                    return tree.CounterAt(parent) == number;
                });
                break;
            case SimOpKind.CreateSequential when !required:
                var under = QueueOf(op.Path);
                yield return Placed((TreeModel tree, out TreeModel next) =>
                {
                    next = tree.Created(under, unnamed: true);
                    return tree.UnnamedCreatesAt(under) == unnamedRank;
                });
                break;
            default:
                throw new ArgumentException($"{op} is not an operation on the registers or queues, or succeeded without naming its node", nameof(op));
        }
    }

    private static int RegisterOf(SimOp op) => IndexOf(RegisterPaths, op.Path);

    private static int QueueOf(string path) => IndexOf(QueuePaths, path);

    private static int IndexOf(string[] paths, string path) =>
        Array.IndexOf(paths, path) is var i and >= 0 ? i : throw new ArgumentException($"{path} is none of the workload's registers and queues", nameof(path));

    private readonly record struct Register(int Version, string Data);

    [InlineArray(SimTree.Registers)]
    private struct Registers
    {
        private Register _first;
    }

    [InlineArray(SimTree.Queues)]
    private struct Counters
    {
        private int _first;
    }

    /// <summary>The modelled tree: a small value, compared by content for the search's memo.</summary>
    private readonly struct TreeModel : IEquatable<TreeModel>
    {
        private readonly Registers _registers;
        private readonly Counters _counters;
        private readonly Counters _unnamedCreates;   // of each queue's in-doubt creates with no name, how many are placed

        private TreeModel(Registers registers, Counters counters, Counters unnamedCreates) =>
            (_registers, _counters, _unnamedCreates) = (registers, counters, unnamedCreates);

        public static TreeModel Genesis
        {
            get
            {
                var registers = new Registers();
                ((Span<Register>)registers).Fill(new Register(0, ""));
                return new TreeModel(registers, new Counters(), new Counters());
            }
        }

        public Register RegisterAt(int register) => _registers[register];

        public int CounterAt(int queue) => _counters[queue];

        public int UnnamedCreatesAt(int queue) => _unnamedCreates[queue];

        /// <summary>This tree after <paramref name="op"/>'s setData of <paramref name="register"/>.</summary>
        public TreeModel Written(int register, SimOp op)
        {
            var registers = _registers;
            registers[register] = new Register(op.ExpectedVersion + 1, op.Data);
            return new TreeModel(registers, _counters, _unnamedCreates);
        }

        /// <summary>This tree with one more child under <paramref name="queue"/>.</summary>
        public TreeModel Created(int queue, bool unnamed = false)
        {
            var counters = _counters;
            var unnamedCreates = _unnamedCreates;
            counters[queue]++;
            if (unnamed)
                unnamedCreates[queue]++;
            return new TreeModel(_registers, counters, unnamedCreates);
        }

        public bool Equals(TreeModel other) =>
            ((ReadOnlySpan<Register>)_registers).SequenceEqual(other._registers) && ((ReadOnlySpan<int>)_counters).SequenceEqual(other._counters)
            && ((ReadOnlySpan<int>)_unnamedCreates).SequenceEqual(other._unnamedCreates);

        public override bool Equals(object? obj) => obj is TreeModel other && Equals(other);

        public override int GetHashCode()
        {
            // The versions and counters tell states apart well enough; hashing the data would cost a string hash each.
            var hash = new HashCode();
            foreach (var register in (ReadOnlySpan<Register>)_registers)
                hash.Add(register.Version);
            foreach (var counter in (ReadOnlySpan<int>)_counters)
                hash.Add(counter);
            foreach (var unnamed in (ReadOnlySpan<int>)_unnamedCreates)
                hash.Add(unnamed);
            return hash.ToHashCode();
        }
    }
}
