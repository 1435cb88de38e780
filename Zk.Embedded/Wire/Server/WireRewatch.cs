using Zk.Embedded.Api;
using Zk.Embedded.InProcess;
using Zk.Embedded.Processing;
using Zk.Embedded.Sessions;
using Zk.Embedded.Tree;
using Zk.Embedded.Watches;
using Zk.Embedded.Wire.Jute;

namespace Zk.Embedded.Wire.Server;

/// <summary>setWatches and setWatches2: the watches a reconnecting client registers again (<c>DataTree.setWatches</c>).</summary>
internal static class WireRewatch
{
    /// <summary>
    /// Queues setWatches in the session's order once every path is known good: a null, empty, relative or otherwise
    /// invalid path answers BadArguments and registers nothing (ZooKeeper registers whatever string it gets, and a null
    /// one throws; see zookeeper-differences.md). Checked here, before the request is queued, because a queued read
    /// may run on the pipeline's publishing thread.
    /// </summary>
    public static void Start(WireConnection connection, int xid, OpCode type, WatchLists lists)
    {
        if (lists.TryFindInvalidPath(out var invalid))
        {
            connection.Read(xid, type, state => ReadEngine.Answer(state, ZkErrorCode.BadArguments, invalid), alwaysQueued: true);
            return;
        }

        connection.Read(xid, type, state => Rewatch(connection, state, lists), alwaysQueued: true);
    }

    /// <summary>
    /// setWatches on reconnect (<c>DataTree.setWatches</c>): against <paramref name="state"/>, a watch whose node changed
    /// after the client's zxid fires at once; the others are registered again as if a read at
    /// <paramref name="state"/> had set them (<see cref="OneShotWatches.Register"/>: registered first, then compared
    /// with the state whose triggers have run, so a change published meanwhile still fires them).
    /// </summary>
    private static ReadOutcome Rewatch(WireConnection connection, TreeState state, WatchLists lists)
    {
        var session = connection.Session;
        var watches = connection.Peer.Watches;
        var relativeZxid = lists.RelativeZxid;
        RewatchOneShots(connection, state, lists.Data, WatchKinds.Data, EventType.NodeDataChanged, node => node.Mzxid > relativeZxid);

        foreach (var path in lists.Exist ?? [])
        {
            if (state.Find(path) is not null)
            {
                Fire(connection, EventType.NodeCreated, path, state);
            }
            else
            {
                Register(connection, state, path, WatchKinds.Data, null);
            }
        }

        RewatchOneShots(connection, state, lists.Child, WatchKinds.Child, EventType.NodeChildrenChanged, node => node.Pzxid > relativeZxid);

        foreach (var path in lists.Persistent ?? [])
        {
            watches.AddPersistent(session, path, AddWatchMode.Persistent);
        }

        foreach (var path in lists.Recursive ?? [])
        {
            watches.AddPersistent(session, path, AddWatchMode.PersistentRecursive);
        }

        return ReadEngine.Answer(state, ZkErrorCode.Ok);
    }

    /// <summary>
    /// Data and child watches alike: a gone node fires NodeDeleted, a node changed since the client's zxid fires
    /// <paramref name="changedType"/>, any other is registered again.
    /// </summary>
    private static void RewatchOneShots(WireConnection connection, TreeState state, IReadOnlyList<string>? paths, WatchKinds kind, EventType changedType, Func<ZNode, bool> changedSince)
    {
        foreach (var path in paths ?? [])
        {
            var node = state.Find(path);
            if (node is null)
            {
                Fire(connection, EventType.NodeDeleted, path, state);
            }
            else if (changedSince(node))
            {
                Fire(connection, changedType, path, state);
            }
            else
            {
                Register(connection, state, path, kind, node);
            }
        }
    }

    private static void Register(WireConnection connection, TreeState state, string path, WatchKinds kind, ZNode? seen) =>
        OneShotWatches.Register(connection.Peer.Watches, connection.Session, path, kind, state, seen, connection.Outbox.FiringState);

    private static void Fire(WireConnection connection, EventType type, string path, TreeState state) =>
        connection.Outbox.EnqueueEvent(new WatchedEvent(type, KeeperState.SyncConnected, path) { Zxid = state.Zxid.Value }, null);
}


/// <summary>The paths of a setWatches or setWatches2 request, with the zxid the client had seen.</summary>
internal readonly record struct WatchLists(
    Zxid RelativeZxid,
    IReadOnlyList<string>? Data,
    IReadOnlyList<string>? Exist,
    IReadOnlyList<string>? Child,
    IReadOnlyList<string>? Persistent,
    IReadOnlyList<string>? Recursive)
{
    /// <summary>The first path of any list that is not a valid znode path (it may be null itself).</summary>
    public bool TryFindInvalidPath(out string? invalid)
    {
        foreach (var list in (ReadOnlySpan<IReadOnlyList<string>?>)[Data, Exist, Child, Persistent, Recursive])
        {
            foreach (var path in list ?? [])
            {
                if (PathRules.Validate(path) is not null)
                {
                    invalid = path;
                    return true;
                }
            }
        }

        invalid = null;
        return false;
    }
}
