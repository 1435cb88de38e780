using Zk.Embedded.Api;
using Zk.Embedded.Sessions;
using Zk.Embedded.Tree;

namespace Zk.Embedded.Watches;

/// <summary>Registering one-shot watches for reads, so that no change after the read is missed and none before it is reported.</summary>
internal static class OneShotWatches
{
    /// <summary>
    /// Registers a one-shot watch for a read that saw <paramref name="seen"/> (null: no node) in <paramref name="readState"/>.
    /// If the triggers of a newer change already ran before the registration (<paramref name="firingState"/> is ahead
    /// of the read), the change is found by comparing the node and fired here: the watch behaves as if it had been
    /// registered at the read.
    /// </summary>
    public static void Register(WatchManager watches, ServerSession session, string path, WatchKinds kind, TreeState readState, ZNode? seen, TreeState firingState)
    {
        watches.AddOneShot(session, path, kind, readState.Zxid);
        if (firingState.Zxid <= readState.Zxid)
        {
            return;
        }

        var now = firingState.Find(path);
        var type = kind == WatchKinds.Child ? ChildChange(seen, now) : DataChange(seen, now);
        if (type is { } changed)
        {
            watches.TryFireOneShot(session, path, kind, changed, firingState.Zxid);
        }
    }

    private static EventType? DataChange(ZNode? seen, ZNode? now)
    {
        if (seen is null)
        {
            return now is null ? null : EventType.NodeCreated;
        }

        if (now is null || now.Czxid != seen.Czxid)
        {
            return EventType.NodeDeleted;
        }

        return now.Mzxid != seen.Mzxid ? EventType.NodeDataChanged : null;
    }

    private static EventType? ChildChange(ZNode? seen, ZNode? now)
    {
        if (seen is null)
        {
            return null;
        }

        if (now is null || now.Czxid != seen.Czxid)
        {
            return EventType.NodeDeleted;
        }

        return now.Pzxid != seen.Pzxid ? EventType.NodeChildrenChanged : null;
    }
}
