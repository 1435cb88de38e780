using Zk.Embedded.Api;
using Zk.Embedded.Processing;
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

    /// <summary>setWatches on reconnect against <paramref name="state"/> (<see cref="Watches.Rewatch.Apply"/>); a watch that fires at once is an event at the state's zxid.</summary>
    private static ReadOutcome Rewatch(WireConnection connection, TreeState state, WatchLists lists)
    {
        Watches.Rewatch.Apply(connection.Peer.Watches, connection.Session, state, connection.Outbox.FiringState, lists,
            (type, path) => connection.Outbox.EnqueueEvent(new WatchedEvent(type, KeeperState.SyncConnected, path) { Zxid = state.Zxid.Value }, null));
        return ReadEngine.Answer(state, ZkErrorCode.Ok);
    }
}
