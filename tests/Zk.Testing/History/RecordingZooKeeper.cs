using System.Diagnostics;
using Zk.Embedded.Api;

namespace Zk.Testing.History;

/// <summary>
/// A session that records its data operations into an <see cref="OperationHistory"/> and otherwise is the session it
/// wraps: same results, same exceptions, same watches.
/// </summary>
internal sealed class RecordingZooKeeper(IZooKeeper inner, OperationHistory history, int session) : DelegatingZooKeeper(inner)
{
    /// <summary>When the newest successful linearizable sync was called: reads after it are linearizable from then on.</summary>
    private long _linearizableSince = NotSynced;

    private const long NotSynced = long.MinValue;

    public override async ValueTask<string> CreateAsync(string path, byte[]? data, IReadOnlyList<Acl> acl, CreateMode mode, long ttl = -1, CancellationToken cancellationToken = default) =>
        await CreateCoreAsync(path, data, mode, () => Inner.CreateAsync(path, data, acl, mode, ttl, cancellationToken), created => (created, null)).ConfigureAwait(false);

    public override ValueTask<CreateResult> CreateWithStatAsync(string path, byte[]? data, IReadOnlyList<Acl> acl, CreateMode mode, long ttl = -1, CancellationToken cancellationToken = default) =>
        CreateCoreAsync(path, data, mode, () => Inner.CreateWithStatAsync(path, data, acl, mode, ttl, cancellationToken), created => (created.Path, created.Stat));

    private ValueTask<T> CreateCoreAsync<T>(string path, byte[]? data, CreateMode mode, Func<ValueTask<T>> call, Func<T, (string Path, Stat? Stat)> made)
    {
        // A sequential create's path is known only from its reply; ephemeral, container and TTL nodes end by the server's hand.
        var tracked = mode == CreateMode.Persistent;
        return RecordAsync(history.Begin(session, tracked ? RecordedKind.Create : RecordedKind.Untracked, path, data: data ?? []), async () =>
        {
            var result = await call().ConfigureAwait(false);
            var (created, stat) = made(result);
            if (!tracked)
                history.Untrack(created);
            return (result, stat);
        });
    }

    public override async ValueTask DeleteAsync(string path, int version = -1, CancellationToken cancellationToken = default) =>
        await RecordAsync(history.Begin(session, RecordedKind.Delete, path, version), async () =>
        {
            await Inner.DeleteAsync(path, version, cancellationToken).ConfigureAwait(false);
            return (true, (Stat?)null);
        }).ConfigureAwait(false);

    public override ValueTask<Stat> SetDataAsync(string path, byte[]? data, int version = -1, CancellationToken cancellationToken = default) =>
        RecordAsync(history.Begin(session, RecordedKind.SetData, path, version, data ?? []), async () =>
        {
            var stat = await Inner.SetDataAsync(path, data, version, cancellationToken).ConfigureAwait(false);
            return (stat, (Stat?)stat);
        });

    public override ValueTask<Stat?> ExistsAsync(string path, Watcher? watcher = null, CancellationToken cancellationToken = default) =>
        RecordAsync(BeginRead(path), async () =>
        {
            var stat = await Inner.ExistsAsync(path, watcher, cancellationToken).ConfigureAwait(false);
            return (stat, stat);
        });

    public override ValueTask<DataResult> GetDataAsync(string path, Watcher? watcher = null, CancellationToken cancellationToken = default)
    {
        var op = BeginRead(path);
        return RecordAsync(op, async () =>
        {
            var result = await Inner.GetDataAsync(path, watcher, cancellationToken).ConfigureAwait(false);
            op.Data = Convert.ToHexString(result.Data.Span); // null data as empty, as the writes record it
            return (result, (Stat?)result.Stat);
        });
    }

    /// <summary>A read after a linearizable sync is linearizable from the sync's call on (it sees at least what was acknowledged before it).</summary>
    private RecordedOperation BeginRead(string path) => Volatile.Read(ref _linearizableSince) is var since && since != NotSynced
        ? history.Begin(session, RecordedKind.LinearizableRead, path, invoke: since)
        : history.Begin(session, RecordedKind.Read, path);

    public override async ValueTask LinearizableSyncAsync(CancellationToken cancellationToken = default)
    {
        var called = Stopwatch.GetTimestamp();
        await Inner.LinearizableSyncAsync(cancellationToken).ConfigureAwait(false);
        Volatile.Write(ref _linearizableSince, called);
    }

    public override async ValueTask<IReadOnlyList<OpResult>> MultiAsync(IReadOnlyList<Op> ops, CancellationToken cancellationToken = default)
    {
        var recorded = ops.Select(BeginMultiOp).ToList();
        try
        {
            var results = await Inner.MultiAsync(ops, cancellationToken).ConfigureAwait(false);
            for (var i = 0; i < recorded.Count; i++)
            {
                if (ops[i] is CreateOp { Mode: not CreateMode.Persistent } && results[i] is CreateResult untracked)
                    history.Untrack(untracked.Path);
                OperationHistory.End(recorded[i], RecordedOutcome.Ok, results[i] switch
                {
                    SetDataResult set => set.Stat,
                    CreateResult made => made.Stat,
                    _ => null,
                });
            }

            return results;
        }
        catch (Exception e)
        {
            // A refused multi changed nothing, and its failing op saw the state its earlier ops would have made, not
            // one any other session saw: it observes nothing the model can use.
            var outcome = OperationHistory.OutcomeOf(e) == RecordedOutcome.Unknown ? RecordedOutcome.Unknown : RecordedOutcome.Failed;
            foreach (var op in recorded)
                OperationHistory.Fail(op, e, outcome);
            throw;
        }
    }

    private RecordedOperation BeginMultiOp(Op op) => op switch
    {
        CreateOp create => history.Begin(session, create.Mode == CreateMode.Persistent ? RecordedKind.Create : RecordedKind.Untracked, create.Path, data: create.Data ?? []),
        DeleteOp delete => history.Begin(session, RecordedKind.Delete, delete.Path, delete.Version),
        SetDataOp set => history.Begin(session, RecordedKind.SetData, set.Path, set.Version, set.Data ?? []),
        CheckOp check => history.Begin(session, RecordedKind.Check, check.Path, check.Version),
        _ => history.Begin(session, RecordedKind.Read, op.Path),
    };

    private static async ValueTask<T> RecordAsync<T>(RecordedOperation op, Func<Task<(T Result, Stat? Stat)>> call)
    {
        try
        {
            var (result, stat) = await call().ConfigureAwait(false);
            OperationHistory.End(op, RecordedOutcome.Ok, stat);
            return result;
        }
        catch (Exception e)
        {
            OperationHistory.Fail(op, e);
            throw;
        }
    }
}
