using Zk.Embedded.Api;
using Zk.Embedded.Processing;
using Zk.Embedded.Tree;
using Zk.Embedded.Watches;

namespace Zk.Embedded.Sessions;

/// <summary>
/// The reads of an in-process session: answered on the caller's thread against the newest state when the session
/// has nothing outstanding (no allocation on the common getData and exists), otherwise in the session's order
/// through its <see cref="SessionOutbox"/>. Watches they ask for register in the order that loses no event
/// (<see cref="PendingWatch"/>). The session checks that it is usable before calling in.
/// </summary>
internal sealed class InProcessReads(PeerCore peer, ServerSession server, SessionOutbox outbox, ClientWatchRegistry watchers)
{

    public ValueTask<Stat?> ExistsAsync(string path, Watcher? watcher = null)
    {
        if (watcher is null && TryBeginFastRead(out var state))
        {
            // The common read, answered without a closure or a boxed result (see ReadAsync for why this order is safe).
            var error = Reads.Exists(state, path, out var node);
            if (outbox.IsIdle)
            {
                return FastResult<Stat?>(error, path, node?.ToStat(), "exists");
            }
        }

        return ExistsQueued(path, watcher);
    }

    // The queued reads live in their own methods: a lambda capturing the parameters makes C# allocate its closure
    // on entry to the method that declares it, which would tax every fast read.
    private ValueTask<Stat?> ExistsQueued(string path, Watcher? watcher) =>
        ReadAsync(state => Exists(state, path, watcher), "exists", static reply => (Stat?)reply.Value);

    public ValueTask<DataResult> GetDataAsync(string path, Watcher? watcher = null)
    {
        if (watcher is null && TryBeginFastRead(out var state))
        {
            var error = Reads.GetData(state, path, server.AuthIds, out var node);
            if (outbox.IsIdle)
            {
                return FastResult(error, path, error == ZkErrorCode.Ok ? new DataResult(node!.Data ?? ReadOnlyMemory<byte>.Empty, node.ToStat()) { DataIsNull = node.Data is null } : default, "getData");
            }
        }

        return GetDataQueued(path, watcher);
    }

    // Queued reads take the session's ids when they are issued, not when they run behind a write: an addAuth made
    // in between does not apply to them (ZooKeeper checks each request with the ids it arrived with).
    private ValueTask<DataResult> GetDataQueued(string path, Watcher? watcher)
    {
        var ids = server.AuthIds;
        return ReadAsync(state => GetData(state, ids, path, watcher), "getData", static reply => (DataResult)reply.Value!);
    }

    /// <summary>True when the read may run here and now: the session is usable and nothing of it is outstanding.</summary>
    private bool TryBeginFastRead(out TreeState state)
    {
        if (!outbox.IsIdle)
        {
            state = null!;
            return false;
        }

        peer.Sessions.Touch(server);
        state = peer.Processor.State;
        return true;
    }

    private static ValueTask<T> FastResult<T>(ZkErrorCode error, string path, T value, string op)
    {
        Telemetry.Requests.Add(1, new KeyValuePair<string, object?>("op", op));
        return error == ZkErrorCode.Ok ? new ValueTask<T>(value) : ValueTask.FromException<T>(new ZkException(error, path));
    }

    public ValueTask<AclResult> GetAclAsync(string path)
    {
        var ids = server.AuthIds;
        return ReadAsync(
            state =>
            {
                var error = Reads.GetAcl(state, path, ids, out var node);
                return Outcome(state, error, path, error == ZkErrorCode.Ok ? new AclResult(Reads.VisibleAcl(node!, ids), node!.ToStat()) : null);
            },
            "getACL",
            static reply => (AclResult)reply.Value!);
    }

    public ValueTask<IReadOnlyList<string>> GetChildrenAsync(string path, Watcher? watcher = null)
    {
        var ids = server.AuthIds;
        return ReadAsync(state => GetChildren(state, ids, path, watcher), "getChildren", static reply => ((ChildrenResult)reply.Value!).Children);
    }

    public ValueTask<ChildrenResult> GetChildrenWithStatAsync(string path, Watcher? watcher = null)
    {
        var ids = server.AuthIds;
        return ReadAsync(state => GetChildren(state, ids, path, watcher), "getChildren2", static reply => (ChildrenResult)reply.Value!);
    }

    public ValueTask<int> GetAllChildrenNumberAsync(string path)
    {
        var ids = server.AuthIds;
        return ReadAsync(
            state =>
            {
                var error = Reads.GetChildren(state, path, ids, out var node);
                return Outcome(state, error, path, error == ZkErrorCode.Ok ? node!.Descendants : null);
            },
            "getAllChildrenNumber",
            static reply => (int)reply.Value!);
    }

    public ValueTask<IReadOnlyList<string>> GetEphemeralsAsync(string prefixPath = "/") =>
        ReadAsync(
            state =>
            {
                var error = Reads.GetEphemerals(state, server.SessionId, prefixPath, out var paths);
                return Outcome(state, error, prefixPath, paths);
            },
            "getEphemerals",
            static reply => (IReadOnlyList<string>)reply.Value!);

    /// <exception cref="ArgumentNullException">the list or one of its ops is null: refused here, before the read is queued.</exception>
    public ValueTask<IReadOnlyList<OpResult>> MultiReadAsync(IReadOnlyList<Op> ops)
    {
        ThrowIfAnyNull(ops, "a multiRead", "a GetDataOp or a GetChildrenOp");
        var ids = server.AuthIds;
        return ReadAsync(state => MultiRead(state, ids, ops), "multiRead", static reply => (IReadOnlyList<OpResult>)reply.Value!);
    }

    /// <summary>Refuses a null list or a null op at the call (ArgumentNullException, parameter "ops"), before anything is queued.</summary>
    internal static void ThrowIfAnyNull(IReadOnlyList<Op> ops, string what, string expected)
    {
        ArgumentNullException.ThrowIfNull(ops);
        for (var i = 0; i < ops.Count; i++)
        {
            if (ops[i] is null)
            {
                throw new ArgumentNullException(nameof(ops), $"ops[{i}] is null: every op of {what} must be {expected}.");
            }
        }
    }

    public ValueTask<IReadOnlyList<ClientInfo>> WhoAmIAsync()
    {
        var ids = server.AuthIds;
        return ReadAsync(state => Outcome(state, ZkErrorCode.Ok, null, Reads.WhoAmI(ids)), "whoAmI", static reply => (IReadOnlyList<ClientInfo>)reply.Value!);
    }

    private ReadOutcome Exists(TreeState state, string path, Watcher? watcher)
    {
        var error = Reads.Exists(state, path, out var node);
        var reply = Answer(state, error, path, node?.ToStat());
        return error == ZkErrorCode.Ok && watcher is not null
            ? new ReadOutcome(reply, Watch(path, node is null ? ClientWatchTable.Exist : ClientWatchTable.Data, watcher, state, node))
            : new ReadOutcome(reply, null);
    }

    private ReadOutcome GetData(TreeState state, IReadOnlyList<Id> ids, string path, Watcher? watcher)
    {
        var error = Reads.GetData(state, path, ids, out var node);
        if (error != ZkErrorCode.Ok)
        {
            return Outcome(state, error, path, null);
        }

        var reply = Answer(state, error, path, new DataResult(node!.Data ?? ReadOnlyMemory<byte>.Empty, node.ToStat()) { DataIsNull = node.Data is null });
        return new ReadOutcome(reply, watcher is null ? null : Watch(path, ClientWatchTable.Data, watcher, state, node));
    }

    private ReadOutcome GetChildren(TreeState state, IReadOnlyList<Id> ids, string path, Watcher? watcher)
    {
        var error = Reads.GetChildren(state, path, ids, out var node);
        if (error != ZkErrorCode.Ok)
        {
            return Outcome(state, error, path, null);
        }

        var reply = Answer(state, error, path, new ChildrenResult(node!.Children.Names(), node.ToStat()));
        return new ReadOutcome(reply, watcher is null ? null : Watch(path, ClientWatchTable.Child, watcher, state, node));
    }

    private PendingWatch Watch(string path, ClientWatchTable table, Watcher watcher, TreeState state, ZNode? seen) =>
        new(watchers, peer.Watches, server, path, table, watcher, state, seen);

    private ReadOutcome MultiRead(TreeState state, IReadOnlyList<Id> ids, IReadOnlyList<Op> ops)
    {
        var results = new OpResult[ops.Count];
        for (var i = 0; i < ops.Count; i++)
        {
            var op = ops[i];
            ZkErrorCode error;
            switch (op)
            {
                case GetDataOp:
                    error = Reads.GetData(state, op.Path, ids, out var dataNode);
                    results[i] = error == ZkErrorCode.Ok ? new GetDataResult(dataNode!.Data ?? ReadOnlyMemory<byte>.Empty, dataNode.ToStat()) { DataIsNull = dataNode.Data is null } : new ErrorResult(error);
                    break;
                case GetChildrenOp:
                    error = Reads.GetChildren(state, op.Path, ids, out var parent);
                    results[i] = error == ZkErrorCode.Ok ? new GetChildrenResult(parent!.Children.Names()) : new ErrorResult(error);
                    break;
                default:
                    // Writes do not mix with reads (MultiOperationRecord).
                    return Outcome(state, ZkErrorCode.BadArguments, op.Path, null);
            }
        }

        return Outcome(state, ZkErrorCode.Ok, null, results);
    }

    private static Reply Answer(TreeState state, ZkErrorCode error, string? path, object? value) =>
        new(error, error == ZkErrorCode.Ok ? null : path, value, state.Zxid, state);

    private static ReadOutcome Outcome(TreeState state, ZkErrorCode error, string? path, object? value) =>
        new(Answer(state, error, path, value), null);

    /// <summary>
    /// Runs a read on the caller's thread when nothing of this session is outstanding (the common case: no
    /// allocation beyond the result, no thread hop); otherwise queues it in the session's order.
    /// </summary>
    private ValueTask<T> ReadAsync<T>(Func<TreeState, ReadOutcome> execute, string op, Func<Reply, T> result)
    {
        peer.Sessions.Touch(server);
        if (outbox.IsIdle)
        {
            var state = peer.Processor.State;
            var outcome = execute(state);
            // The outbox is checked after the state is read: an event for any change in that state was queued before
            // the state was published, so an idle outbox means every such event has been delivered.
            if (outbox.IsIdle)
            {
                if (outcome.Watch is { } watch)
                {
                    watch.RegisterClient();
                    watch.RegisterServer(outbox.FiringState);
                }

                var reply = outcome.Reply;
                Telemetry.Requests.Add(1, new KeyValuePair<string, object?>("op", op));
                return reply.IsError ? ValueTask.FromException<T>(reply.ToException()) : new ValueTask<T>(result(reply));
            }

            // Something was queued meanwhile (an event, or a write from another thread): the answer stands, it is
            // just delivered behind what is queued.
            return Queued(outbox.EnqueueAnswered(outcome), op, result);
        }

        return Queued(outbox.EnqueueRead(execute), op, result);

        static async ValueTask<T> Queued(Task<Reply> pending, string op, Func<Reply, T> result)
        {
            var reply = await pending.ConfigureAwait(false);
            Telemetry.Requests.Add(1, new KeyValuePair<string, object?>("op", op));
            return reply.IsError ? throw reply.ToException() : result(reply);
        }
    }
}
