using Zk.Embedded.Api;
using Zk.Embedded.Sessions;
using Zk.Embedded.Tree;

namespace Zk.Embedded.Watches;

/// <summary>
/// setWatches on reconnect (<c>DataTree.setWatches</c>), whatever the connection: the wire's setWatches and
/// setWatches2 (<c>Wire.Server.WireRewatch</c>) and the deterministic simulator's clients that move between peers.
/// </summary>
internal static class Rewatch
{
    /// <summary>
    /// Against <paramref name="state"/>, a watch whose node changed after the client's zxid fires at once through
    /// <paramref name="fire"/> (a gone node NodeDeleted, a changed one NodeDataChanged or NodeChildrenChanged, an
    /// exist watch's node that is there NodeCreated); the others are registered again as if a read at
    /// <paramref name="state"/> had set them (<see cref="OneShotWatches.Register"/>: registered first, then compared
    /// with the state whose triggers have run, so a change published meanwhile still fires them). Persistent watches
    /// are added again: what changed while the client was away fires nothing, as in ZooKeeper.
    /// </summary>
    public static void Apply(WatchManager watches, ServerSession session, TreeState state, Func<TreeState> firingState, in WatchLists lists,
        Action<EventType, string> fire)
    {
        var relativeZxid = lists.RelativeZxid;
        OneShots(lists.Data, WatchKinds.Data, EventType.NodeDataChanged, node => node.Mzxid > relativeZxid, watches, session, state, firingState, fire);

        foreach (var path in lists.Exist ?? [])
        {
            if (state.Find(path) is not null)
                fire(EventType.NodeCreated, path);
            else
                OneShotWatches.Register(watches, session, path, WatchKinds.Data, state, null, firingState);
        }

        OneShots(lists.Child, WatchKinds.Child, EventType.NodeChildrenChanged, node => node.Pzxid > relativeZxid, watches, session, state, firingState, fire);

        foreach (var path in lists.Persistent ?? [])
            watches.AddPersistent(session, path, AddWatchMode.Persistent);

        foreach (var path in lists.Recursive ?? [])
            watches.AddPersistent(session, path, AddWatchMode.PersistentRecursive);
    }

    /// <summary>Data and child watches alike: a gone node fires NodeDeleted, a node changed since the client's zxid <paramref name="changed"/>, any other is registered again.</summary>
    private static void OneShots(IReadOnlyList<string>? paths, WatchKinds kind, EventType changed, Func<ZNode, bool> changedSince,
        WatchManager watches, ServerSession session, TreeState state, Func<TreeState> firingState, Action<EventType, string> fire)
    {
        foreach (var path in paths ?? [])
        {
            var node = state.Find(path);
            if (node is null)
                fire(EventType.NodeDeleted, path);
            else if (changedSince(node))
                fire(changed, path);
            else
                OneShotWatches.Register(watches, session, path, kind, state, node, firingState);
        }
    }
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
