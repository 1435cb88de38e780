using Zk.Embedded.Api;
using Zk.Embedded.Watches;

namespace Zk.Testing.Simulation;

/// <summary>
/// Watches across reconnects, as ZooKeeper's client keeps them: its registry drops a one-shot when its event arrives,
/// and on a new connection of the same session it sends setWatches with the newest zxid it has seen. The new peer runs
/// the real <see cref="Zk.Embedded.Watches.Rewatch"/> against its tree: a watch whose node changed since then fires at once, the
/// others are registered again.
/// </summary>
internal sealed partial class Workload
{
    /// <summary>The client's registry on an event: data and exist watches go with a data change, a create or a delete; child watches with a children change or a delete.</summary>
    private static void Forget(SimClient client, WatchedEvent e) =>
        client.Standing.RemoveAll(w => w.Path == e.Path && w.Kind switch
        {
            WatchKinds.Data => e.Type is EventType.NodeDataChanged or EventType.NodeCreated or EventType.NodeDeleted,
            WatchKinds.Child => e.Type is EventType.NodeChildrenChanged or EventType.NodeDeleted,
            _ => false,
        });

    /// <summary>setWatches on the client's new connection, with every watch of its registry (one per path and list).</summary>
    private void Rewatch(SimClient client, SimPeer peer)
    {
        if (client.Session == 0 || client.Standing.Count == 0)
            return;
        var state = peer.Tree.State;   // the peer reattached the session (Connect)

        var connection = client.Connection!;
        var relative = options.RewatchFromPeerZxid ? state.Zxid : client.LastSeen;
        // The oldest record of each watch: the checker holds the new one to the first change after that read.
        var records = client.Standing.GroupBy(w => (w.Path, w.Kind, w.Exist)).Select(g => g.MinBy(w => w.ReadZxid)!)
            .Select(w => new SimWatch(connection.Id, connection.Received, w.Path, w.Kind, state.Zxid) { Exist = w.Exist, Relative = relative, Origin = w })
            .ToList();
        client.Standing.Clear();
        client.Standing.AddRange(records);
        History.Watches.AddRange(records);
        History.Rewatches++;

        List<string> Paths(WatchKinds kind, bool exist = false) => [.. records.Where(w => w.Kind == kind && w.Exist == exist).Select(w => w.Path)];
        var lists = new WatchLists(relative, Paths(WatchKinds.Data), Paths(WatchKinds.Data, exist: true), Paths(WatchKinds.Child),
            Paths(WatchKinds.Persistent), Paths(WatchKinds.PersistentRecursive));
        var fired = 0;
        Zk.Embedded.Watches.Rewatch.Apply(peer.Tree.Watches, connection.Server, state, () => peer.Tree.State, lists, (type, path) =>
        {
            fired++;
            connection.OnWatchEvent(new WatchedEvent(type, KeeperState.SyncConnected, path) { Zxid = state.Zxid.Value });
        });
        History.RewatchFired += fired;
        log($"client {client.Id} sets {records.Count} watches again on {peer.Id} at {state.Zxid} (relative {relative}): {fired} fired at once");
    }
}
