using Zk.Embedded.Api;
using Zk.Embedded.Sessions;
using Zk.Embedded.Tree;
using Zk.Embedded.Watches;

namespace Zk.Embedded.Processing;

/// <summary>
/// Who a read runs for: the session (its ephemerals, the server half of its watches), the ids it is checked with
/// (taken when the request arrived, not when it runs), and, in process, the registry that holds the client half of
/// its watches (a wire client keeps its own: null).
/// </summary>
internal readonly record struct ReadContext(ServerSession Session, IReadOnlyList<Id> Ids, WatchManager Watches, ClientWatchRegistry? Watchers);

/// <summary>
/// The one read engine of the peer, shared by in-process sessions and the client port: each read as ZooKeeper's
/// <c>FinalRequestProcessor</c> answers it, against one immutable <see cref="TreeState"/>, with the result in our own
/// types (<see cref="Stat"/>, <see cref="DataResult"/>, <see cref="ChildrenResult"/>, <see cref="AclResult"/>, op
/// results) and the watch it asked for, not yet registered (<see cref="PendingWatch"/>). The adapters only map: the
/// in-process session to the <see cref="IZooKeeper"/> results and exceptions, the wire to jute responses.
/// </summary>
/// <remarks>
/// A missing node is NoNode for exists too, as ZooKeeper's server answers it; the in-process session turns that into
/// a null stat, as the Java client does. The typed overloads (<see cref="Exists(TreeState, string, out Stat?)"/>,
/// <see cref="GetData(TreeState, string, IReadOnlyList{Id}, out DataResult)"/>) allocate nothing: they serve the
/// in-process reads answered on the caller's thread.
/// </remarks>
internal static class ReadEngine
{
    /// <summary>A read's answer with no watch: <paramref name="path"/> is kept only on an error.</summary>
    public static ReadOutcome Answer(TreeState state, ZkErrorCode error, string? path = null, object? value = null) =>
        new(new Reply(error, error == ZkErrorCode.Ok ? null : path, value, state.Zxid, state), null);

    /// <summary>exists with no watch: the node's stat, NoNode when there is none; no permission needed.</summary>
    public static ZkErrorCode Exists(TreeState state, string path, out Stat? stat)
    {
        var error = Exists(state, path, out ZNode? node);
        stat = node?.ToStat();
        return error;
    }

    /// <summary>exists; the watch (when <paramref name="watcher"/> is set) is a data watch on a node, an exist watch on none.</summary>
    public static ReadOutcome Exists(TreeState state, in ReadContext context, string path, Watcher? watcher)
    {
        var error = Exists(state, path, out ZNode? node);
        var outcome = Answer(state, error, path, node?.ToStat());
        return error == ZkErrorCode.BadArguments
            ? outcome
            : Watched(outcome, context, path, node is null ? ClientWatchTable.Exist : ClientWatchTable.Data, watcher, node);
    }

    /// <summary>getData with no watch: READ on the node.</summary>
    public static ZkErrorCode GetData(TreeState state, string path, IReadOnlyList<Id> ids, out DataResult data)
    {
        var error = Reads.GetData(state, path, ids, out var node);
        data = error == ZkErrorCode.Ok ? DataOf(node!) : default;
        return error;
    }

    /// <summary>getData: READ on the node; the watch is a data watch.</summary>
    public static ReadOutcome GetData(TreeState state, in ReadContext context, string path, Watcher? watcher)
    {
        var error = Reads.GetData(state, path, context.Ids, out var node);
        return error != ZkErrorCode.Ok
            ? Answer(state, error, path)
            : Watched(Answer(state, error, path, DataOf(node!)), context, path, ClientWatchTable.Data, watcher, node);
    }

    /// <summary>getChildren and getChildren2 (one answer, the wire encodes the stat only for the second): READ on the node; a child watch.</summary>
    public static ReadOutcome GetChildren(TreeState state, in ReadContext context, string path, Watcher? watcher)
    {
        var error = Reads.GetChildren(state, path, context.Ids, out var node);
        return error != ZkErrorCode.Ok
            ? Answer(state, error, path)
            : Watched(Answer(state, error, path, new ChildrenResult(node!.Children.Names(), node.ToStat())), context, path, ClientWatchTable.Child, watcher, node);
    }

    /// <summary>getAllChildrenNumber: READ on the node; every node below it, as an int.</summary>
    public static ReadOutcome GetAllChildrenNumber(TreeState state, in ReadContext context, string path)
    {
        var error = Reads.GetChildren(state, path, context.Ids, out var node);
        return Answer(state, error, path, error == ZkErrorCode.Ok ? node!.Descendants : null);
    }

    /// <summary>getACL: READ or ADMIN on the node; digest hashes hidden from a caller without ADMIN.</summary>
    public static ReadOutcome GetAcl(TreeState state, in ReadContext context, string path)
    {
        var error = Reads.GetAcl(state, path, context.Ids, out var node);
        return Answer(state, error, path, error == ZkErrorCode.Ok ? new AclResult(Reads.VisibleAcl(node!, context.Ids), node!.ToStat()) : null);
    }

    /// <summary>getEphemerals: the session's ephemerals under <paramref name="prefix"/>, sorted.</summary>
    public static ReadOutcome GetEphemerals(TreeState state, in ReadContext context, string prefix)
    {
        var error = Reads.GetEphemerals(state, context.Session.SessionId, prefix, out var paths);
        return Answer(state, error, prefix, paths);
    }

    /// <summary>whoAmI: the context's ids with their user names.</summary>
    public static ReadOutcome WhoAmI(TreeState state, in ReadContext context) => Answer(state, ZkErrorCode.Ok, null, Reads.WhoAmI(context.Ids));

    /// <summary>
    /// multiRead: each op answered alone (a failing op is an <see cref="ErrorResult"/> and the others still read, as in
    /// ZooKeeper); the reply is Ok with the op results. A write op makes the whole request BadArguments with its path
    /// (writes do not mix with reads: <c>MultiOperationRecord</c>); the wire refuses those as it decodes.
    /// </summary>
    public static ReadOutcome MultiRead(TreeState state, in ReadContext context, IReadOnlyList<Op> ops)
    {
        var results = new OpResult[ops.Count];
        for (var i = 0; i < ops.Count; i++)
        {
            var op = ops[i];
            switch (op)
            {
                case GetDataOp:
                    var error = GetData(state, op.Path, context.Ids, out var data);
                    results[i] = error == ZkErrorCode.Ok ? new GetDataResult(data.Data, data.Stat) { DataIsNull = data.DataIsNull } : new ErrorResult(error);
                    break;
                case GetChildrenOp:
                    error = Reads.GetChildren(state, op.Path, context.Ids, out var parent);
                    results[i] = error == ZkErrorCode.Ok ? new GetChildrenResult(parent!.Children.Names()) : new ErrorResult(error);
                    break;
                default:
                    return Answer(state, ZkErrorCode.BadArguments, op.Path);
            }
        }

        return Answer(state, ZkErrorCode.Ok, null, results);
    }

    private static ZkErrorCode Exists(TreeState state, string path, out ZNode? node)
    {
        var error = Reads.Exists(state, path, out node);
        return error == ZkErrorCode.Ok && node is null ? ZkErrorCode.NoNode : error;
    }

    private static DataResult DataOf(ZNode node) =>
        new(node.Data ?? ReadOnlyMemory<byte>.Empty, node.ToStat()) { DataIsNull = node.Data is null };

    /// <summary>The outcome with the watch it asked for (none when <paramref name="watcher"/> is null), as the read saw <paramref name="seen"/>.</summary>
    private static ReadOutcome Watched(in ReadOutcome outcome, in ReadContext context, string path, ClientWatchTable table, Watcher? watcher, ZNode? seen) =>
        watcher is null
            ? outcome
            : outcome with { Watch = new PendingWatch(context.Watchers, context.Watches, context.Session, path, table, watcher, outcome.Reply.State, seen) };
}
