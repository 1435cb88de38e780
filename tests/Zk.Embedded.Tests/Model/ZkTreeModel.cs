using System.Globalization;
using Zk.Embedded.Api;

namespace Zk.Embedded.Tests.Model;

/// <summary>A znode as the reference model keeps it: ZooKeeper's <c>StatPersisted</c> fields plus the children names.</summary>
internal sealed class ModelNode
{
    public byte[] Data { get; set; } = [];

    public int Version { get; set; }

    /// <summary>ZooKeeper's internal cversion: the number of child creates ever (deletes do not count).</summary>
    public int Creates { get; set; }

    public int Aversion { get; set; }

    public long Owner { get; set; }

    public long Czxid { get; set; }

    public long Mzxid { get; set; }

    public long Pzxid { get; set; }

    public SortedSet<string> Children { get; private set; } = new(StringComparer.Ordinal);

    /// <summary>The Stat a client sees (<c>DataNode.copyStat</c>); times are left out, the model does not predict them.</summary>
    public Stat ToStat() => new(Czxid, Mzxid, 0, 0, Version, (Creates * 2) - Children.Count, Aversion, Owner, Data.Length, Children.Count, Pzxid);

    public ModelNode Clone()
    {
        var copy = (ModelNode)MemberwiseClone();
        copy.Children = new SortedSet<string>(Children, StringComparer.Ordinal);
        return copy;
    }
}

/// <summary>A change a watch may see, in the order ZooKeeper's <c>DataTree</c> triggers them.</summary>
internal readonly record struct ModelEvent(EventType Type, string Path)
{
    public override string ToString() => $"{Type}:{Path}";
}

/// <summary>What the model predicts for one write op inside a multi: the error, or the result it reports.</summary>
internal readonly record struct ModelOpResult(ZkErrorCode Code, string? Path, Stat? Stat);

/// <summary>
/// A small, slow, obviously-right model of ZooKeeper's data tree and one-shot watches, written from
/// <c>PrepRequestProcessor</c> (checks and their order), <c>DataTree</c> (stats and triggers), <c>DataNode.copyStat</c>
/// (reported cversion) and the server <c>WatchManager</c> (one event per session per trigger, watches are one-shot).
/// Zxids are supplied by the caller: the model predicts which fields take the zxid of which txn.
/// </summary>
internal sealed class ZkTreeModel
{
    private Dictionary<string, ModelNode> _nodes = new(StringComparer.Ordinal);
    private readonly Dictionary<long, (HashSet<string> Data, HashSet<string> Child)> _watches = [];

    public ZkTreeModel()
    {
        // A fresh peer holds / and /zookeeper (with its own children, outside the path space this model touches).
        var root = new ModelNode();
        root.Children.Add("zookeeper");
        _nodes["/"] = root;
    }

    public IReadOnlyDictionary<string, ModelNode> Nodes => _nodes;

    public static string Parent(string path)
    {
        var slash = path.LastIndexOf('/');
        return slash == 0 ? "/" : path[..slash];
    }

    public static string Name(string path) => path[(path.LastIndexOf('/') + 1)..];

    // ---- reads ----

    public Stat? Exists(long session, string path, bool watch)
    {
        if (watch)
        {
            WatchesOf(session).Data.Add(path);
        }

        return _nodes.TryGetValue(path, out var node) ? node.ToStat() : null;
    }

    public ZkErrorCode GetData(long session, string path, bool watch, out ModelNode? node)
    {
        if (!_nodes.TryGetValue(path, out node))
        {
            return ZkErrorCode.NoNode; // DataTree.getData throws before it adds the watch.
        }

        if (watch)
        {
            WatchesOf(session).Data.Add(path);
        }

        return ZkErrorCode.Ok;
    }

    public ZkErrorCode GetChildren(long session, string path, bool watch, out ModelNode? node)
    {
        if (!_nodes.TryGetValue(path, out node))
        {
            return ZkErrorCode.NoNode;
        }

        if (watch)
        {
            WatchesOf(session).Child.Add(path);
        }

        return ZkErrorCode.Ok;
    }

    // ---- writes: each returns the error, or applies the change and appends its triggers ----

    public ZkErrorCode Create(long session, string path, byte[]? data, CreateMode mode, long zxid, List<ModelEvent> triggers, out string actualPath)
    {
        actualPath = path;
        var parentPath = Parent(path);
        if (!_nodes.TryGetValue(parentPath, out var parent))
        {
            return ZkErrorCode.NoNode;
        }

        if (mode.IsSequential())
        {
            actualPath = path + parent.Creates.ToString("D10", CultureInfo.InvariantCulture);
        }

        if (_nodes.ContainsKey(actualPath))
        {
            return ZkErrorCode.NodeExists;
        }

        if (parent.Owner != 0)
        {
            return ZkErrorCode.NoChildrenForEphemerals;
        }

        _nodes[actualPath] = new ModelNode
        {
            Data = data ?? [],
            Owner = mode.IsEphemeral() ? session : 0,
            Czxid = zxid,
            Mzxid = zxid,
            Pzxid = zxid,
        };
        parent.Creates++;
        parent.Children.Add(Name(actualPath));
        parent.Pzxid = zxid;
        triggers.Add(new ModelEvent(EventType.NodeCreated, actualPath));
        triggers.Add(new ModelEvent(EventType.NodeChildrenChanged, parentPath));
        return ZkErrorCode.Ok;
    }

    public ZkErrorCode Delete(string path, int version, long zxid, List<ModelEvent> triggers)
    {
        if (path == "/")
        {
            return ZkErrorCode.BadArguments; // PrepRequestProcessor.getParentPathAndValidate: a special path.
        }

        if (!_nodes.TryGetValue(Parent(path), out var parent) || !_nodes.TryGetValue(path, out var node))
        {
            return ZkErrorCode.NoNode;
        }

        if (version != -1 && version != node.Version)
        {
            return ZkErrorCode.BadVersion;
        }

        if (node.Children.Count > 0)
        {
            return ZkErrorCode.NotEmpty;
        }

        Remove(path, parent, zxid, triggers);
        return ZkErrorCode.Ok;
    }

    public ZkErrorCode SetData(string path, byte[]? data, int version, long zxid, List<ModelEvent> triggers)
    {
        if (!_nodes.TryGetValue(path, out var node))
        {
            return ZkErrorCode.NoNode;
        }

        if (version != -1 && version != node.Version)
        {
            return ZkErrorCode.BadVersion;
        }

        node.Data = data ?? [];
        node.Version++;
        node.Mzxid = zxid;
        triggers.Add(new ModelEvent(EventType.NodeDataChanged, path));
        return ZkErrorCode.Ok;
    }

    /// <summary>setACL with the same open ACL: only aversion moves, and no watch fires (<c>DataTree.setACL</c>).</summary>
    public ZkErrorCode SetAcl(string path, int aversion)
    {
        if (!_nodes.TryGetValue(path, out var node))
        {
            return ZkErrorCode.NoNode;
        }

        if (aversion != -1 && aversion != node.Aversion)
        {
            return ZkErrorCode.BadVersion;
        }

        node.Aversion++;
        return ZkErrorCode.Ok;
    }

    public ZkErrorCode Check(string path, int version) =>
        !_nodes.TryGetValue(path, out var node) ? ZkErrorCode.NoNode
        : version != -1 && version != node.Version ? ZkErrorCode.BadVersion
        : ZkErrorCode.Ok;

    /// <summary>
    /// All ops or none. On failure the results follow ZooKeeper: ok (rolled back) before the failing op, its code,
    /// then RuntimeInconsistency. On success each result shows the state right after its own op.
    /// </summary>
    public ZkErrorCode Multi(long session, IReadOnlyList<Op> ops, long zxid, List<ModelEvent> triggers, out ModelOpResult[] results)
    {
        var saved = _nodes;
        _nodes = saved.ToDictionary(kv => kv.Key, kv => kv.Value.Clone(), StringComparer.Ordinal);
        var multiTriggers = new List<ModelEvent>();
        results = new ModelOpResult[ops.Count];
        for (var i = 0; i < ops.Count; i++)
        {
            string? path = null;
            var code = ops[i] switch
            {
                CreateOp c => Create(session, c.Path, c.Data, c.Mode, zxid, multiTriggers, out path),
                DeleteOp d => Delete(d.Path, d.Version, zxid, multiTriggers),
                SetDataOp s => SetData(s.Path, s.Data, s.Version, zxid, multiTriggers),
                CheckOp k => Check(k.Path, k.Version),
                _ => ZkErrorCode.BadArguments,
            };
            if (code != ZkErrorCode.Ok)
            {
                _nodes = saved;
                for (var j = 0; j < ops.Count; j++)
                {
                    results[j] = new ModelOpResult(j < i ? ZkErrorCode.Ok : j == i ? code : ZkErrorCode.RuntimeInconsistency, null, null);
                }

                return code;
            }

            var statPath = ops[i] is CreateOp ? path : ops[i] is SetDataOp ? ops[i].Path : null;
            results[i] = new ModelOpResult(ZkErrorCode.Ok, path, statPath is null ? null : _nodes[statPath].ToStat());
        }

        triggers.AddRange(multiTriggers);
        return ZkErrorCode.Ok;
    }

    /// <summary>
    /// Ends a session by its client's close: its ephemerals go, in any order, and it still hears them (call
    /// <see cref="ForgetSession"/> after firing the triggers).
    /// </summary>
    public void CloseSession(long session, long zxid, List<ModelEvent> triggers)
    {
        foreach (var path in _nodes.Where(kv => kv.Value.Owner == session).Select(kv => kv.Key).ToList())
        {
            Remove(path, _nodes[Parent(path)], zxid, triggers);
        }
    }

    /// <summary>Drops a closed session's watches: it hears nothing more.</summary>
    public void ForgetSession(long session) => _watches.Remove(session);

    /// <summary>
    /// Fires one-shot watches for <paramref name="triggers"/> in order (server <c>WatchManager.triggerWatch</c>):
    /// data watches on created, changed, deleted; child watches on children-changed and deleted; one event per
    /// session per trigger. Returns the events each session receives.
    /// </summary>
    public Dictionary<long, List<ModelEvent>> Fire(List<ModelEvent> triggers)
    {
        var events = new Dictionary<long, List<ModelEvent>>();
        foreach (var trigger in triggers)
        {
            foreach (var (session, (data, child)) in _watches)
            {
                var fired = trigger.Type switch
                {
                    EventType.NodeCreated or EventType.NodeDataChanged => data.Remove(trigger.Path),
                    EventType.NodeChildrenChanged => child.Remove(trigger.Path),
                    EventType.NodeDeleted => data.Remove(trigger.Path) | child.Remove(trigger.Path),
                    _ => false,
                };
                if (fired)
                {
                    (events.TryGetValue(session, out var list) ? list : events[session] = []).Add(trigger);
                }
            }
        }

        return events;
    }

    private void Remove(string path, ModelNode parent, long zxid, List<ModelEvent> triggers)
    {
        _nodes.Remove(path);
        parent.Children.Remove(Name(path));
        parent.Pzxid = Math.Max(parent.Pzxid, zxid);
        triggers.Add(new ModelEvent(EventType.NodeDeleted, path));
        triggers.Add(new ModelEvent(EventType.NodeChildrenChanged, Parent(path)));
    }

    private (HashSet<string> Data, HashSet<string> Child) WatchesOf(long session)
    {
        if (!_watches.TryGetValue(session, out var sets))
        {
            sets = (new HashSet<string>(StringComparer.Ordinal), new HashSet<string>(StringComparer.Ordinal));
            _watches[session] = sets;
        }

        return sets;
    }
}
