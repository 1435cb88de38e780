using Zk.Embedded.Api;
using Zk.Embedded.Sessions;
using Zk.Embedded.Tree;
using Zk.Embedded.Watches;

namespace Zk.Embedded.Processing;

/// <summary>Which client-side table a one-shot watcher joins.</summary>
internal enum ClientWatchTable
{
    Data,
    Exist,
    Child,
}

/// <summary>
/// A one-shot watch a read asked for, registered in two halves with an order that loses no event:
/// the client half (which delegate hears it) when the read's reply is delivered, like the Java client registering on
/// the reply; the server half (which session hears it) once the reply holds its place in the session's outbox, so any
/// event it produces queues behind that reply. A read answered at once, with nothing queued, does both at once,
/// client half first.
/// </summary>
/// <remarks>A wire connection passes no registry: its client keeps its own watchers.</remarks>
internal sealed class PendingWatch(
    ClientWatchRegistry? watchers,
    WatchManager watches,
    ServerSession session,
    string path,
    ClientWatchTable table,
    Watcher watcher,
    TreeState readState,
    ZNode? seen)
{
    public void RegisterClient()
    {
        if (watchers is null)
        {
            return;
        }

        switch (table)
        {
            case ClientWatchTable.Data:
                watchers.AddData(path, watcher);
                break;
            case ClientWatchTable.Exist:
                watchers.AddExist(path, watcher);
                break;
            default:
                watchers.AddChild(path, watcher);
                break;
        }
    }

    /// <param name="firingState">
    /// reads the state whose watches have fired (RequestProcessor.FiringState); called after the watch is added, never
    /// before (see OneShotWatches.Register for why that order misses no change).
    /// </param>
    public void RegisterServer(Func<TreeState> firingState)
    {
        var kind = table == ClientWatchTable.Child ? WatchKinds.Child : WatchKinds.Data;
        OneShotWatches.Register(watches, session, path, kind, readState, seen, firingState);
    }
}

/// <summary>A read's answer and the watch it asked for, not yet registered.</summary>
internal readonly record struct ReadOutcome(Reply Reply, PendingWatch? Watch);
