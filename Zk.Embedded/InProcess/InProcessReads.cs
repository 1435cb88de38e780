using Zk.Embedded.Api;
using Zk.Embedded.Processing;
using Zk.Embedded.Sessions;
using Zk.Embedded.Tree;
using Zk.Embedded.Watches;

namespace Zk.Embedded.InProcess;

/// <summary>
/// The reads of an in-process session: answered on the caller's thread against the newest state when the session
/// has nothing outstanding (no allocation on the common getData and exists), otherwise in the session's order
/// through its <see cref="SessionOutbox"/>. Watches they ask for register in the order that loses no event
/// (<see cref="PendingWatch"/>). The session checks that it is usable before calling in. What each read answers is
/// <see cref="ReadEngine"/>'s, shared with the client port; this class only maps it to the <see cref="IZooKeeper"/>
/// results and exceptions.
/// </summary>
internal sealed class InProcessReads(PeerCore peer, ServerSession server, SessionOutbox outbox, ClientWatchRegistry watchers, SeenZxid seen)
{
    public ValueTask<Stat?> ExistsAsync(string path, Watcher? watcher = null)
    {
        if (watcher is null && TryBeginFastRead(out var state))
        {
            // The common read, answered without a closure or a boxed result (see ReadAsync for why this order is safe).
            var error = ReadEngine.Exists(state, path, out Stat? stat);
            if (outbox.IsIdle)
            {
                return FastResult(MissingIsNull(error), path, stat, "exists");
            }
        }

        return ExistsQueued(path, watcher);
    }

    // The queued reads live in their own methods: a lambda capturing the parameters makes C# allocate its closure
    // on entry to the method that declares it, which would tax every fast read.
    private ValueTask<Stat?> ExistsQueued(string path, Watcher? watcher)
    {
        var context = Context();
        return ReadAsync(state => MissingIsNull(ReadEngine.Exists(state, context, path, watcher)), "exists", static reply => (Stat?)reply.Value);
    }

    public ValueTask<DataResult> GetDataAsync(string path, Watcher? watcher = null)
    {
        if (watcher is null && TryBeginFastRead(out var state))
        {
            var error = ReadEngine.GetData(state, path, server.AuthIds, out var data);
            if (outbox.IsIdle)
            {
                return FastResult(error, path, data, "getData");
            }
        }

        return GetDataQueued(path, watcher);
    }

    private ValueTask<DataResult> GetDataQueued(string path, Watcher? watcher)
    {
        var context = Context();
        return ReadAsync(state => ReadEngine.GetData(state, context, path, watcher), "getData", static reply => (DataResult)reply.Value!);
    }

    /// <summary>True when the read may run here and now: the session is usable and nothing of it is outstanding.</summary>
    private bool TryBeginFastRead(out TreeState state)
    {
        if (!outbox.IsIdle || peer.Pipeline.NotServing is not null)
        {
            state = null!;
            return false;
        }

        peer.Sessions.Touch(server);
        state = peer.Pipeline.State;
        seen.Saw(state.Zxid);
        return true;
    }

    private static ValueTask<T> FastResult<T>(ZkErrorCode error, string path, T value, string op)
    {
        Telemetry.Requests.Add(1, new KeyValuePair<string, object?>("op", op));
        return error == ZkErrorCode.Ok ? new ValueTask<T>(value) : ValueTask.FromException<T>(new ZkException(error, path));
    }

    /// <summary>exists of a missing node is a null stat here, as the Java client's <c>ZooKeeper.exists</c> turns the server's NoNode into null.</summary>
    private static ZkErrorCode MissingIsNull(ZkErrorCode error) => error == ZkErrorCode.NoNode ? ZkErrorCode.Ok : error;

    private static ReadOutcome MissingIsNull(ReadOutcome outcome) => outcome.Reply.Error == ZkErrorCode.NoNode
        ? outcome with { Reply = outcome.Reply with { Error = ZkErrorCode.Ok, ErrorPath = null } }
        : outcome;

    // Reads take the session's ids when they are issued, not when they run behind a write: an addAuth made in
    // between does not apply to them (ZooKeeper checks each request with the ids it arrived with).
    private ReadContext Context() => new(server, server.AuthIds, peer.Watches, watchers);

    public ValueTask<AclResult> GetAclAsync(string path)
    {
        var context = Context();
        return ReadAsync(state => ReadEngine.GetAcl(state, context, path), "getACL", static reply => (AclResult)reply.Value!);
    }

    public ValueTask<IReadOnlyList<string>> GetChildrenAsync(string path, Watcher? watcher = null)
    {
        var context = Context();
        return ReadAsync(state => ReadEngine.GetChildren(state, context, path, watcher), "getChildren", static reply => ((ChildrenResult)reply.Value!).Children);
    }

    public ValueTask<ChildrenResult> GetChildrenWithStatAsync(string path, Watcher? watcher = null)
    {
        var context = Context();
        return ReadAsync(state => ReadEngine.GetChildren(state, context, path, watcher), "getChildren2", static reply => (ChildrenResult)reply.Value!);
    }

    public ValueTask<int> GetAllChildrenNumberAsync(string path)
    {
        var context = Context();
        return ReadAsync(state => ReadEngine.GetAllChildrenNumber(state, context, path), "getAllChildrenNumber", static reply => (int)reply.Value!);
    }

    public ValueTask<IReadOnlyList<string>> GetEphemeralsAsync(string prefixPath = "/")
    {
        var context = Context();
        return ReadAsync(state => ReadEngine.GetEphemerals(state, context, prefixPath), "getEphemerals", static reply => (IReadOnlyList<string>)reply.Value!);
    }

    /// <exception cref="ArgumentNullException">the list or one of its ops is null: refused here, before the read is queued.</exception>
    public ValueTask<IReadOnlyList<OpResult>> MultiReadAsync(IReadOnlyList<Op> ops)
    {
        ThrowIfAnyNull(ops, "a multiRead", "a GetDataOp or a GetChildrenOp");
        var context = Context();
        return ReadAsync(state => ReadEngine.MultiRead(state, context, ops), "multiRead", static reply => (IReadOnlyList<OpResult>)reply.Value!);
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
        var context = Context();
        return ReadAsync(state => ReadEngine.WhoAmI(state, context), "whoAmI", static reply => (IReadOnlyList<ClientInfo>)reply.Value!);
    }

    /// <summary>
    /// Runs a read on the caller's thread when nothing of this session is outstanding (the common case: no
    /// allocation beyond the result, no thread hop); otherwise queues it in the session's order.
    /// </summary>
    private ValueTask<T> ReadAsync<T>(Func<TreeState, ReadOutcome> execute, string op, Func<Reply, T> result)
    {
        if (peer.Pipeline.NotServing is { } notServing)
        {
            // An ensemble member without a leader serves nothing, as ZooKeeper's closes its client connections: its
            // state may be behind what the quorum has committed.
            return ValueTask.FromException<T>(new ZkException(ZkErrorCode.ConnectionLoss, null, $"This peer serves no clients now: {notServing}."));
        }

        peer.Sessions.Touch(server);
        if (outbox.IsIdle)
        {
            var state = peer.Pipeline.State;
            seen.Saw(state.Zxid);
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
            return Queued(outbox.EnqueueAnswered(outcome), op, result, seen);
        }

        return Queued(outbox.EnqueueRead(execute), op, result, seen);

        static async ValueTask<T> Queued(Task<Reply> pending, string op, Func<Reply, T> result, SeenZxid seen)
        {
            var reply = await pending.ConfigureAwait(false);
            seen.Saw(reply.Zxid);
            Telemetry.Requests.Add(1, new KeyValuePair<string, object?>("op", op));
            return reply.IsError ? throw reply.ToException() : result(reply);
        }
    }
}
