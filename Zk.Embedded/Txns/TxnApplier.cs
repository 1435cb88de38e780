using System.Collections.Immutable;
using Zk.Embedded.Api;
using Zk.Embedded.Tree;

namespace Zk.Embedded.Txns;

/// <summary>A change a watch may care about: what happened and where.</summary>
internal readonly record struct WatchTrigger(EventType Type, string Path);

/// <summary>
/// Applies committed txns to a <see cref="TreeState"/>, deterministically (DESIGN invariant 1): the result depends
/// on the state and the txn only. Used by the leader to build its next state and by every replay.
/// </summary>
internal static class TxnApplier
{
    /// <summary>The state after <paramref name="txn"/>; the watch triggers it causes are appended to <paramref name="triggers"/>.</summary>
    public static TreeState Apply(TreeState state, Txn txn, List<WatchTrigger>? triggers)
    {
        var next = ApplyOp(state, txn, txn.Op, triggers);
        return next.With(zxid: txn.Zxid);
    }

    private static TreeState ApplyOp(TreeState state, Txn txn, TxnOp op, List<WatchTrigger>? triggers) => op switch
    {
        CreateTxn create => Create(state, txn, create, triggers),
        DeleteTxn delete => Delete(state, txn.Zxid, delete.Path, triggers),
        SetDataTxn set => SetData(state, txn, set, triggers),
        SetAclTxn setAcl => state.With(root: RewriteAt(state, setAcl.Path, new SetAclChange(setAcl.Acl, setAcl.Aversion))),
        CheckTxn => state,
        CreateSessionTxn session => state.With(sessions: state.Sessions.SetItem(txn.SessionId, new SessionEntry(txn.SessionId, session.TimeoutMillis))),
        CloseSessionTxn => CloseSession(state, txn, triggers),
        MultiTxn multi => ApplyAll(state, txn, multi.Ops, triggers),
        _ => throw new InvalidOperationException($"Unknown txn {op.GetType().Name} at zxid {txn.Zxid}."),
    };

    private static TreeState ApplyAll(TreeState state, Txn txn, TxnOp[] ops, List<WatchTrigger>? triggers)
    {
        foreach (var op in ops)
        {
            state = ApplyOp(state, txn, op, triggers);
        }

        return state;
    }

    private static TreeState Create(TreeState state, Txn txn, CreateTxn create, List<WatchTrigger>? triggers)
    {
        var parentPath = PathRules.Parent(create.Path);
        var child = ZNode.NewLeaf(PathRules.Name(create.Path), create.Data, create.Acl, txn.Zxid, txn.Time, create.EphemeralOwner);
        var root = RewriteAt(state, parentPath, new AddChildChange(child, create.ParentCreateCount, txn.Zxid));
        var next = state.With(root: root);
        if (child.IsContainer)
        {
            next = next.With(containers: state.Containers.Add(create.Path));
        }
        else if (child.IsTtl)
        {
            next = next.With(ttls: state.Ttls.Add(create.Path));
        }
        else if (child.OwnerSession != default)
        {
            var owned = state.Ephemerals.TryGetValue(child.OwnerSession, out var set) ? set : ImmutableHashSet<string>.Empty.WithComparer(StringComparer.Ordinal);
            next = next.With(ephemerals: state.Ephemerals.SetItem(child.OwnerSession, owned.Add(create.Path)));
        }

        next = Quota(next, create.Path, parentPath, child.Name, bytesDiff: child.Data?.Length ?? 0, countDiff: 1, created: true);
        triggers?.Add(new WatchTrigger(EventType.NodeCreated, create.Path));
        triggers?.Add(new WatchTrigger(EventType.NodeChildrenChanged, parentPath));
        return next;
    }

    /// <summary>
    /// Quota bookkeeping after a create or delete (<c>DataTree.createNode</c>/<c>deleteNode</c>): a zookeeper_limits
    /// node adds or removes a quota path, a new zookeeper_stats node is filled with its subtree's counts, and any other
    /// change under a quota path moves that quota's stats.
    /// </summary>
    private static TreeState Quota(TreeState state, string path, string parentPath, string name, long bytesDiff, int countDiff, bool created)
    {
        if (parentPath.StartsWith(QuotaRules.Root + "/", StringComparison.Ordinal))
        {
            var quotaPath = QuotaRules.Trim(parentPath);
            if (name == QuotaRules.LimitNode)
            {
                return state.With(quotas: created ? state.Quotas.Add(quotaPath) : state.Quotas.Remove(quotaPath));
            }

            if (name == QuotaRules.StatNode && created && state.Find(quotaPath) is { } counted && state.Find(path) is { } statNode)
            {
                var (count, bytes) = QuotaRules.Count(counted);
                return state.With(root: RewriteAt(state, path, new RawDataChange(QuotaRules.Stats(count, bytes, statNode.Data))));
            }

            return state;
        }

        return QuotaRules.MaxPrefixWithQuota(state, path) is { } prefix ? UpdateQuotaStat(state, prefix, bytesDiff, countDiff) : state;
    }

    private static TreeState UpdateQuotaStat(TreeState state, string prefix, long bytesDiff, int countDiff)
    {
        var statPath = QuotaRules.StatPath(prefix);
        if (state.Find(statPath) is not { } statNode)
        {
            return state;
        }

        var (count, bytes) = QuotaRules.Parse(statNode.Data);
        var data = QuotaRules.Stats(count + countDiff, bytes + bytesDiff, statNode.Data);
        return state.With(root: RewriteAt(state, statPath, new RawDataChange(data)));
    }

    private static TreeState Delete(TreeState state, Zxid zxid, string path, List<WatchTrigger>? triggers)
    {
        var node = state.Find(path) ?? throw new InvalidOperationException($"Delete of missing node {path} at zxid {zxid}.");
        var parentPath = PathRules.Parent(path);
        var next = state.With(root: RewriteAt(state, parentPath, new RemoveChildChange(node, zxid)));
        if (node.IsContainer)
        {
            next = next.With(containers: state.Containers.Remove(path));
        }
        else if (node.IsTtl)
        {
            next = next.With(ttls: state.Ttls.Remove(path));
        }
        else if (node.OwnerSession != default && state.Ephemerals.TryGetValue(node.OwnerSession, out var owned))
        {
            owned = owned.Remove(path);
            next = next.With(ephemerals: owned.IsEmpty ? state.Ephemerals.Remove(node.OwnerSession) : state.Ephemerals.SetItem(node.OwnerSession, owned));
        }

        next = Quota(next, path, parentPath, node.Name, bytesDiff: -(node.Data?.Length ?? 0), countDiff: -1, created: false);
        triggers?.Add(new WatchTrigger(EventType.NodeDeleted, path));
        triggers?.Add(new WatchTrigger(EventType.NodeChildrenChanged, parentPath));
        return next;
    }

    private static TreeState SetData(TreeState state, Txn txn, SetDataTxn set, List<WatchTrigger>? triggers)
    {
        var before = state.Quotas.IsEmpty ? 0 : state.Find(set.Path)?.Data?.Length ?? 0;
        var next = state.With(root: RewriteAt(state, set.Path, new SetDataChange(set.Data, set.Version, txn.Zxid, txn.Time)));
        if (QuotaRules.MaxPrefixWithQuota(next, set.Path) is { } prefix)
        {
            next = UpdateQuotaStat(next, prefix, (set.Data?.Length ?? 0) - before, 0);
        }

        triggers?.Add(new WatchTrigger(EventType.NodeDataChanged, set.Path));
        return next;
    }

    private static TreeState CloseSession(TreeState state, Txn txn, List<WatchTrigger>? triggers)
    {
        if (state.Ephemerals.TryGetValue(txn.SessionId, out var owned))
        {
            var paths = owned.ToArray();
            Array.Sort(paths, StringComparer.Ordinal);
            foreach (var path in paths)
            {
                state = Delete(state, txn.Zxid, path, triggers);
            }
        }

        return state.With(sessions: state.Sessions.Remove(txn.SessionId), ephemerals: state.Ephemerals.Remove(txn.SessionId));
    }

    private static ZNode RewriteAt<TChange>(TreeState state, string path, TChange change)
        where TChange : struct, INodeChange =>
        TreeState.Rewrite(state.Root, path, ref change);

    private readonly struct AddChildChange(ZNode child, int createCount, Zxid zxid) : INodeChange
    {
        public ZNode Apply(ZNode target) => target.WithChildAdded(child, createCount, zxid);
    }

    private readonly struct RemoveChildChange(ZNode child, Zxid zxid) : INodeChange
    {
        public ZNode Apply(ZNode target) => target.WithChildRemoved(child, zxid);
    }

    private readonly struct SetDataChange(byte[]? data, int version, Zxid zxid, long time) : INodeChange
    {
        public ZNode Apply(ZNode target) => target.WithData(data, version, zxid, time);
    }

    private readonly struct RawDataChange(byte[] data) : INodeChange
    {
        public ZNode Apply(ZNode target) => target.WithRawData(data);
    }

    private readonly struct SetAclChange(AclList acl, int aversion) : INodeChange
    {
        public ZNode Apply(ZNode target) => target.WithAcl(acl, aversion);
    }
}
