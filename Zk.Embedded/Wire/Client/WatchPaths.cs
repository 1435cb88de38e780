using Zk.Embedded.Api;
using Zk.Embedded.Watches;
using Zk.Embedded.Wire.Jute;

namespace Zk.Embedded.Wire.Client;

/// <summary>
/// Which paths may hold which kind of watch, for re-registering them after a reconnect (setWatches). The
/// <see cref="ClientWatchRegistry"/> stays the authority on who listens; this remembers whether a one-shot data watch
/// came from getData (data) or from exists on a missing node (exist), which the server treats differently.
/// </summary>
internal sealed class WatchPaths
{
    private readonly HashSet<string> _data = new(StringComparer.Ordinal);
    private readonly HashSet<string> _exist = new(StringComparer.Ordinal);
    private readonly HashSet<string> _child = new(StringComparer.Ordinal);
    private readonly HashSet<string> _persistent = new(StringComparer.Ordinal);
    private readonly HashSet<string> _recursive = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    public void Added(string path, WatchKind kind)
    {
        lock (_lock)
        {
            switch (kind)
            {
                case WatchKind.Data:
                    _exist.Remove(path);
                    _data.Add(path);
                    break;
                case WatchKind.Exists:
                    _exist.Add(path);
                    break;
                case WatchKind.Child:
                    _child.Add(path);
                    break;
                case WatchKind.Persistent:
                    _persistent.Add(path);
                    break;
                case WatchKind.PersistentRecursive:
                    _recursive.Add(path);
                    break;
            }
        }
    }

    /// <summary>An event fired the one-shot watches it names (the registry's materialize rules).</summary>
    public void Fired(WatchedEvent watchedEvent)
    {
        if (watchedEvent.Path is not { } path)
        {
            return;
        }

        lock (_lock)
        {
            if (watchedEvent.Type is EventType.NodeCreated or EventType.NodeDataChanged or EventType.NodeDeleted)
            {
                _data.Remove(path);
                _exist.Remove(path);
            }

            if (watchedEvent.Type is EventType.NodeChildrenChanged or EventType.NodeDeleted)
            {
                _child.Remove(path);
            }
        }
    }

    public void Clear()
    {
        lock (_lock)
        {
            _data.Clear();
            _exist.Clear();
            _child.Clear();
            _persistent.Clear();
            _recursive.Clear();
        }
    }

    /// <summary>The watches to re-register, as server paths, or null when there are none; drops paths nobody watches any more.</summary>
    public SetWatches2? Snapshot(ClientWatchRegistry registry, Chroot chroot, long relativeZxid)
    {
        lock (_lock)
        {
            var data = new List<string>();
            var exist = new List<string>();
            foreach (var path in Live(_data, registry, WatcherType.Data))
            {
                data.Add(chroot.ToServer(path));
            }

            foreach (var path in Live(_exist, registry, WatcherType.Data))
            {
                if (!_data.Contains(path))
                {
                    exist.Add(chroot.ToServer(path));
                }
            }

            var child = chroot.ToServer(Live(_child, registry, WatcherType.Children));
            var persistent = chroot.ToServer(Live(_persistent, registry, WatcherType.Persistent));
            var recursive = chroot.ToServer(Live(_recursive, registry, WatcherType.PersistentRecursive));
            return data.Count + exist.Count + child.Count + persistent.Count + recursive.Count == 0
                ? null
                : new SetWatches2(relativeZxid, data, exist, child, persistent, recursive);
        }
    }

    private static List<string> Live(HashSet<string> paths, ClientWatchRegistry registry, WatcherType type)
    {
        var live = new List<string>();
        paths.RemoveWhere(path => registry.Remove(path, null, type, dryRun: true).Count == 0);
        live.AddRange(paths);
        return live;
    }
}
