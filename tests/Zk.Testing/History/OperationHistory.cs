using System.Diagnostics;
using Zk.Embedded.Api;

namespace Zk.Testing.History;

/// <summary>
/// The operations of recorded sessions, with when each was called and returned and what it saw, and the checks over
/// them. Wrap every session whose writes matter with <see cref="Record"/>; <see cref="Check"/> then answers whether
/// what they saw is what ZooKeeper promises:
/// <list type="bullet">
/// <item>every path's writes (create, delete, setData, conditional or not, in multis too), the refusals that observed
/// it (NoNode, NodeExists, BadVersion) and its linearizable reads (a getData or exists after the session's
/// <see cref="IZooKeeper.LinearizableSyncAsync"/>) are linearizable: one order respecting real time explains them all
/// (a write whose outcome the session never learned may count or not);</item>
/// <item>a session never reads a path at an older state (mzxid) than it saw before, its own writes included.</item>
/// </list>
/// Paths are assumed to be changed only by recorded sessions; a path's starting state is whatever its first
/// operations observe. Paths made ephemeral, sequential, container or TTL are not modelled (their ends are the
/// server's) and are listed as unchecked.
/// </summary>
public sealed class OperationHistory
{
    private readonly List<RecordedOperation> _operations = [];
    private readonly HashSet<string> _untracked = [];
    private int _sessions;

    /// <summary>Every operation recorded so far, in order of invocation.</summary>
    public IReadOnlyList<RecordedOperation> Operations
    {
        get { lock (_operations) return [.. _operations]; }
    }

    /// <summary>A session that behaves as <paramref name="session"/> and records its operations here.</summary>
    public IZooKeeper Record(IZooKeeper session) => new RecordingZooKeeper(session, this, Interlocked.Increment(ref _sessions) - 1);

    internal RecordedOperation Begin(int session, RecordedKind kind, string path, int version = -1, byte[]? data = null, long? invoke = null) =>
        Append(new RecordedOperation
        {
            Id = 0, Session = session, Kind = kind, Path = path, Version = version,
            Data = data is null ? null : Convert.ToHexString(data), Invoke = invoke ?? Stopwatch.GetTimestamp(),
        });

    /// <summary>Adds <paramref name="op"/> as the next operation (numbered in order) and returns the instance kept.</summary>
    internal RecordedOperation Append(RecordedOperation op)
    {
        lock (_operations)
        {
            op = op with { Id = _operations.Count };
            _operations.Add(op);
            if (op.Kind == RecordedKind.Untracked)
                _untracked.Add(op.Path);
            return op;
        }
    }

    internal void Untrack(string path)
    {
        lock (_operations)
            _untracked.Add(path);
    }

    internal static void End(RecordedOperation op, RecordedOutcome outcome, Stat? stat = null, ZkErrorCode error = ZkErrorCode.Ok)
    {
        op.Stat = stat;
        op.Error = error;
        op.Outcome = outcome;
        op.Return = outcome == RecordedOutcome.Unknown ? long.MaxValue : Stopwatch.GetTimestamp();
    }

    /// <summary>Ends <paramref name="op"/> with the exception it failed with (<paramref name="outcome"/>: <see cref="OutcomeOf"/> unless given).</summary>
    internal static void Fail(RecordedOperation op, Exception e, RecordedOutcome? outcome = null) =>
        End(op, outcome ?? OutcomeOf(e), error: (e as ZkException)?.Code ?? default);

    /// <summary>How an exception ends an operation: what it says about the znode, if anything.</summary>
    internal static RecordedOutcome OutcomeOf(Exception e) => e is ZkException zk
        ? zk.Code switch
        {
            ZkErrorCode.NoNode or ZkErrorCode.NodeExists or ZkErrorCode.BadVersion or ZkErrorCode.NotEmpty => RecordedOutcome.Refused,
            ZkErrorCode.NoAuth or ZkErrorCode.BadArguments or ZkErrorCode.InvalidAcl or ZkErrorCode.NoChildrenForEphemerals
                or ZkErrorCode.Unimplemented or ZkErrorCode.QuotaExceeded or ZkErrorCode.EphemeralOnLocalSession or ZkErrorCode.Throttled => RecordedOutcome.Failed,
            _ => RecordedOutcome.Unknown,
        }
        : RecordedOutcome.Unknown;

    /// <summary>Runs the checks over what is recorded so far (call it once the sessions are done).</summary>
    public HistoryCheckResult Check()
    {
        List<RecordedOperation> ops;
        HashSet<string> untracked;
        lock (_operations)
        {
            ops = [.. _operations];
            untracked = [.. _untracked];
        }

        var violations = new List<string>();
        CheckSessionsNeverGoBack(ops, violations);
        var inconclusive = new List<string>();
        var checkedPaths = 0;
        var checkedOps = 0;
        foreach (var path in ops.Where(o => !untracked.Contains(o.Path)).GroupBy(o => o.Path).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var modelled = path.Where(Constrains).ToList();
            if (modelled.Count == 0)
                continue;
            checkedPaths++;
            checkedOps += modelled.Count;
            var search = modelled.Select(op => new SearchOp<ZnodeState>(op.Invoke, op.Return, op.Outcome != RecordedOutcome.Unknown,
                (ZnodeState state, out ZnodeState next) => ZnodeState.Step(op, state, out next))).ToList();
            switch (LinearizabilitySearch.Check(search, ZnodeState.Unknown))
            {
                case LinearizabilityVerdict.NotLinearizable:
                    violations.Add($"{path.Key}: no order of its {modelled.Count} operations that respects real time explains what they saw:\n    " +
                                   string.Join("\n    ", modelled.TakeLast(24)));
                    break;
                case LinearizabilityVerdict.Inconclusive:
                    inconclusive.Add(path.Key);
                    break;
            }
        }

        return new HistoryCheckResult(violations, checkedPaths, checkedOps, inconclusive, [.. untracked.Order(StringComparer.Ordinal)]);
    }

    /// <summary>What the linearizability search places: writes, their observing refusals and linearizable reads; not plain reads or failures.</summary>
    private static bool Constrains(RecordedOperation op) =>
        op.Kind is not (RecordedKind.Read or RecordedKind.Untracked)
        && op.Outcome != RecordedOutcome.Failed
        && !(op.Outcome == RecordedOutcome.Unknown && op.Kind is RecordedKind.LinearizableRead or RecordedKind.Check);

    /// <summary>A session's reads of a path never show an older data change than it saw (read or wrote) before.</summary>
    private static void CheckSessionsNeverGoBack(List<RecordedOperation> ops, List<string> violations)
    {
        foreach (var session in ops.GroupBy(o => o.Session))
        {
            var newest = new Dictionary<string, RecordedOperation>();
            // In the order the session got its replies: ZooKeeper answers a session's requests in order.
            foreach (var op in session.Where(o => o.Outcome == RecordedOutcome.Ok && o.Stat is not null).OrderBy(o => o.Return).ThenBy(o => o.Id))
            {
                var mzxid = op.Stat!.Value.Mzxid;
                if (newest.TryGetValue(op.Path, out var before) && op.Kind is RecordedKind.Read or RecordedKind.LinearizableRead
                    && mzxid < before.Stat!.Value.Mzxid)
                {
                    violations.Add($"session {session.Key} went back in time on {op.Path}: {op} after {before}");
                }

                if (!newest.TryGetValue(op.Path, out before) || mzxid > before.Stat!.Value.Mzxid)
                    newest[op.Path] = op;
            }
        }
    }
}

/// <summary>What <see cref="OperationHistory.Check"/> found.</summary>
/// <param name="Violations">each broken promise, with the operations that show it; empty when none</param>
/// <param name="PathsChecked">paths whose operations were searched for a linearizable order</param>
/// <param name="OperationsChecked">operations placed or considered by those searches</param>
/// <param name="Inconclusive">paths the search could not decide within its bounds: neither passed nor failed</param>
/// <param name="Unchecked">paths left out because the model does not follow them (ephemeral, sequential, container, TTL)</param>
public sealed record HistoryCheckResult(
    IReadOnlyList<string> Violations, int PathsChecked, int OperationsChecked, IReadOnlyList<string> Inconclusive, IReadOnlyList<string> Unchecked)
{
    /// <summary>No violation found (inconclusive paths are reported apart: check <see cref="Inconclusive"/> too).</summary>
    public bool Passed => Violations.Count == 0;

    /// <summary>The violations, then the counts.</summary>
    public override string ToString() =>
        (Passed ? "no violation" : $"{Violations.Count} violation(s):\n  " + string.Join("\n  ", Violations)) +
        $"\n{PathsChecked} path(s) and {OperationsChecked} operation(s) checked; inconclusive: {(Inconclusive.Count == 0 ? "none" : string.Join(", ", Inconclusive))}; unchecked: {Unchecked.Count}";
}
