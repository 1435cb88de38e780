using Zk.Embedded.Api;
using Zk.Embedded.Watches;

namespace Zk.Embedded.Wire.Client;

/// <summary>
/// The client's watches: the shared <see cref="ClientWatchRegistry"/> (who hears what), the paths to re-register after
/// a reconnect, and delivery to the watchers. Runs on the dispatch loop, in the order replies and events arrived.
/// </summary>
internal sealed class ClientWatches(Watcher? defaultWatcher, Action<Exception, WatchedEvent> watcherFailed)
{
    public ClientWatchRegistry Registry { get; } = new();

    public WatchPaths Paths { get; } = new();

    /// <summary>Registers a watch when its request's reply arrives (Java's <c>WatchRegistration.register</c>).</summary>
    public void Register(string path, Watcher watcher, WatchKind kind, ZkErrorCode error)
    {
        var ok = error == ZkErrorCode.Ok;
        switch (kind)
        {
            case WatchKind.Data when ok:
                Registry.AddData(path, watcher);
                break;
            case WatchKind.Exists when ok:
                // exists on a node that is there sets a data watch; on a missing node, an exist watch.
                Registry.AddData(path, watcher);
                kind = WatchKind.Data;
                break;
            case WatchKind.Exists when error == ZkErrorCode.NoNode:
                Registry.AddExist(path, watcher);
                break;
            case WatchKind.Child when ok:
                Registry.AddChild(path, watcher);
                break;
            case WatchKind.Persistent when ok:
                Registry.AddPersistent(path, watcher, AddWatchMode.Persistent);
                break;
            case WatchKind.PersistentRecursive when ok:
                Registry.AddPersistent(path, watcher, AddWatchMode.PersistentRecursive);
                break;
            default:
                return;
        }

        Paths.Added(path, kind);
    }

    /// <summary>Hands an event to the watchers it goes to, each once (or only to <paramref name="only"/>).</summary>
    public void Deliver(WatchedEvent watchedEvent, Watcher? only)
    {
        if (only is not null)
        {
            Invoke(only, watchedEvent);
            return;
        }

        Paths.Fired(watchedEvent);
        foreach (var watcher in Registry.Materialize(watchedEvent, defaultWatcher))
        {
            Invoke(watcher, watchedEvent);
        }
    }

    private void Invoke(Watcher watcher, WatchedEvent watchedEvent)
    {
        try
        {
            watcher(watchedEvent);
        }
        catch (Exception e)
        {
            watcherFailed(e, watchedEvent);
        }
    }
}
