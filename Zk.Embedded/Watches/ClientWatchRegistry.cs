using Zk.Embedded.Api;
using Zk.Embedded.Tree;

namespace Zk.Embedded.Watches;

/// <summary>
/// The client side of watches: which <see cref="Watcher"/> delegates wait on which path, and who gets an event
/// (the rules of the Java client's <c>ZKWatchManager.materialize</c>). Shared by the in-process session and the
/// wire client, so both deliver the same events to the same watchers.
/// </summary>
internal sealed class ClientWatchRegistry
{
    private readonly Dictionary<string, HashSet<Watcher>> _data = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HashSet<Watcher>> _exist = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HashSet<Watcher>> _child = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HashSet<Watcher>> _persistent = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HashSet<Watcher>> _recursive = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    public void AddData(string path, Watcher watcher) => Add(_data, path, watcher);

    public void AddExist(string path, Watcher watcher) => Add(_exist, path, watcher);

    public void AddChild(string path, Watcher watcher) => Add(_child, path, watcher);

    public void AddPersistent(string path, Watcher watcher, AddWatchMode mode) =>
        Add(mode == AddWatchMode.PersistentRecursive ? _recursive : _persistent, path, watcher);

    /// <summary>
    /// The paths watched now, as a reconnecting client sends them with setWatches (<c>ZKWatchManager</c>'s lists):
    /// what a session sets again on a member that serves again (<see cref="Rewatch"/>).
    /// </summary>
    public WatchLists Lists(Zxid relativeZxid)
    {
        lock (_lock)
        {
            return new WatchLists(relativeZxid, [.. _data.Keys], [.. _exist.Keys], [.. _child.Keys], [.. _persistent.Keys], [.. _recursive.Keys]);
        }
    }

    /// <summary>
    /// The session's <see cref="IZooKeeper.StateChanged"/> handlers: every state event (type None) goes to them too,
    /// after the default watcher and the registered watchers.
    /// </summary>
    public event Action<KeeperState>? StateChanged;

    /// <summary>The watchers an event goes to, each once; one-shot registrations it fires are removed.</summary>
    public List<Watcher> Materialize(WatchedEvent watchedEvent, Watcher? defaultWatcher)
    {
        var result = new List<Watcher>();
        lock (_lock)
        {
            var path = watchedEvent.Path ?? "/";
            switch (watchedEvent.Type)
            {
                case EventType.None:
                    AddIfNotNull(result, defaultWatcher);
                    var ended = watchedEvent.State is KeeperState.Expired or KeeperState.Closed or KeeperState.AuthFailed;
                    foreach (var table in (ReadOnlySpan<Dictionary<string, HashSet<Watcher>>>)[_data, _exist, _child, _persistent, _recursive])
                    {
                        foreach (var set in table.Values)
                        {
                            AddAll(result, set);
                        }

                        if (ended)
                        {
                            table.Clear();
                        }
                    }

                    if (StateChanged is { } handlers)
                    {
                        foreach (var handler in handlers.GetInvocationList())
                        {
                            result.Add(e => ((Action<KeeperState>)handler)(e.State));
                        }
                    }

                    break;
                case EventType.NodeCreated:
                case EventType.NodeDataChanged:
                    Take(result, _data, path);
                    Take(result, _exist, path);
                    AddPersistentWatchers(result, path, includeRecursive: true);
                    break;
                case EventType.NodeChildrenChanged:
                    Take(result, _child, path);
                    AddPersistentWatchers(result, path, includeRecursive: false);
                    break;
                case EventType.NodeDeleted:
                    Take(result, _data, path);
                    Take(result, _exist, path);
                    Take(result, _child, path);
                    AddPersistentWatchers(result, path, includeRecursive: true);
                    break;
            }
        }

        return result;
    }

    /// <summary>
    /// Removes one watcher (or all, when <paramref name="watcher"/> is null) of a type from a path. Returns what was
    /// removed, each with the event type its removal notification carries; empty when nothing matched.
    /// </summary>
    /// <param name="dryRun">only report what would be removed.</param>
    public List<(Watcher Watcher, EventType Type)> Remove(string path, Watcher? watcher, WatcherType type, bool dryRun)
    {
        var removed = new List<(Watcher, EventType)>();
        lock (_lock)
        {
            // ZKWatchManager.removeWatcher: each type names one kind of watch, Any names all.
            if (type is WatcherType.Children or WatcherType.Any)
            {
                RemoveFrom(_child, path, watcher, EventType.ChildWatchRemoved, removed, dryRun);
            }

            if (type is WatcherType.Data or WatcherType.Any)
            {
                RemoveFrom(_data, path, watcher, EventType.DataWatchRemoved, removed, dryRun);
                RemoveFrom(_exist, path, watcher, EventType.DataWatchRemoved, removed, dryRun);
            }

            if (type is WatcherType.Persistent or WatcherType.Any)
            {
                RemoveFrom(_persistent, path, watcher, EventType.PersistentWatchRemoved, removed, dryRun);
            }

            if (type is WatcherType.PersistentRecursive or WatcherType.Any)
            {
                RemoveFrom(_recursive, path, watcher, EventType.PersistentWatchRemoved, removed, dryRun);
            }
        }

        return removed;
    }

    /// <summary>True when a watcher other than <paramref name="watcher"/> waits on the path in a table the type covers.</summary>
    public bool HasOthers(string path, Watcher watcher, WatcherType type)
    {
        lock (_lock)
        {
            var tables = type switch
            {
                WatcherType.Children => new[] { _child },
                WatcherType.Data => [_data, _exist],
                WatcherType.Persistent => [_persistent],
                WatcherType.PersistentRecursive => [_recursive],
                _ => [_data, _exist, _child, _persistent, _recursive],
            };
            foreach (var table in tables)
            {
                if (table.TryGetValue(path, out var set) && (set.Count > 1 || !set.Contains(watcher)))
                {
                    return true;
                }
            }

            return false;
        }
    }

    private void AddPersistentWatchers(List<Watcher> result, string path, bool includeRecursive)
    {
        if (_persistent.TryGetValue(path, out var set))
        {
            AddAll(result, set);
        }

        if (!includeRecursive || _recursive.Count == 0)
        {
            return;
        }

        var current = path;
        while (true)
        {
            if (_recursive.TryGetValue(current, out var recursive))
            {
                AddAll(result, recursive);
            }

            if (current.Length == 1)
            {
                break;
            }

            current = PathRules.Parent(current);
        }
    }

    private void Add(Dictionary<string, HashSet<Watcher>> table, string path, Watcher watcher)
    {
        lock (_lock)
        {
            if (!table.TryGetValue(path, out var set))
            {
                table[path] = set = [];
            }

            set.Add(watcher);
        }
    }

    private static void Take(List<Watcher> result, Dictionary<string, HashSet<Watcher>> table, string path)
    {
        if (table.Remove(path, out var set))
        {
            AddAll(result, set);
        }
    }

    private static void AddAll(List<Watcher> result, HashSet<Watcher> set)
    {
        foreach (var watcher in set)
        {
            if (!result.Contains(watcher))
            {
                result.Add(watcher);
            }
        }
    }

    private static void AddIfNotNull(List<Watcher> result, Watcher? watcher)
    {
        if (watcher is not null && !result.Contains(watcher))
        {
            result.Add(watcher);
        }
    }

    private static void RemoveFrom(Dictionary<string, HashSet<Watcher>> table, string path, Watcher? watcher, EventType type, List<(Watcher, EventType)> removed, bool dryRun)
    {
        if (!table.TryGetValue(path, out var set))
        {
            return;
        }

        if (watcher is null)
        {
            foreach (var w in set)
            {
                removed.Add((w, type));
            }

            if (!dryRun)
            {
                table.Remove(path);
            }

            return;
        }

        if (dryRun ? set.Contains(watcher) : set.Remove(watcher))
        {
            removed.Add((watcher, type));
            if (set.Count == 0)
            {
                table.Remove(path);
            }
        }
    }
}
