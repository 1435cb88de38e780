using System.Collections.Immutable;
using Zk.Embedded.Api;

namespace Zk.Embedded.Tree;

/// <summary>
/// The whole replicated state at one zxid: the znode tree plus the indexes and the session table.
/// Immutable: the single writer builds the next state by path copying and publishes it with one reference write,
/// so readers never lock, never wait, and never see half of a txn (a multi is one state change).
/// </summary>
internal sealed class TreeState
{
    public TreeState(
        ZNode root,
        Zxid zxid,
        ImmutableDictionary<SessionId, SessionEntry> sessions,
        ImmutableDictionary<SessionId, ImmutableHashSet<string>> ephemerals,
        ImmutableHashSet<string> containers,
        ImmutableHashSet<string> ttls,
        ImmutableHashSet<string>? quotas = null)
    {
        Root = root;
        Zxid = zxid;
        Sessions = sessions;
        Ephemerals = ephemerals;
        Containers = containers;
        Ttls = ttls;
        Quotas = quotas ?? ImmutableHashSet<string>.Empty.WithComparer(StringComparer.Ordinal);
    }

    public ZNode Root { get; }

    /// <summary>The zxid of the last txn in this state.</summary>
    public Zxid Zxid { get; }

    /// <summary>Live sessions (created by a createSession txn, gone with closeSession).</summary>
    public ImmutableDictionary<SessionId, SessionEntry> Sessions { get; }

    /// <summary>Paths of each session's ephemerals.</summary>
    public ImmutableDictionary<SessionId, ImmutableHashSet<string>> Ephemerals { get; }

    public ImmutableHashSet<string> Containers { get; }

    public ImmutableHashSet<string> Ttls { get; }

    /// <summary>Paths with a quota: those with a /zookeeper/quota/&lt;path&gt;/zookeeper_limits node (ZooKeeper's pTrie).</summary>
    public ImmutableHashSet<string> Quotas { get; }

    /// <summary>Number of znodes, the root included.</summary>
    public int NodeCount => Root.Descendants + 1;

    /// <summary>The tree a fresh peer starts with: /, /zookeeper, /zookeeper/quota and /zookeeper/config.</summary>
    public static TreeState CreateInitial()
    {
        var quota = ZNode.NewLeaf("quota", [], AclList.Open, default, 0, 0);
        // ZooKeeper sets /zookeeper/config read-only with setACL(path, READ_ACL_UNSAFE, -1), leaving aversion -1.
        var config = ZNode.NewLeaf("config", [], AclList.Read, default, 0, 0).WithAcl(AclList.Read, -1);
        var zookeeper = ZNode.NewLeaf("zookeeper", [], AclList.Open, default, 0, 0)
            .WithChildAdded(quota, 0, default)
            .WithChildAdded(config, 0, default);
        var root = ZNode.NewLeaf(string.Empty, [], AclList.Open, default, 0, 0).WithChildAdded(zookeeper, 0, default);
        return new TreeState(
            root,
            default,
            ImmutableDictionary<SessionId, SessionEntry>.Empty,
            ImmutableDictionary<SessionId, ImmutableHashSet<string>>.Empty,
            ImmutableHashSet<string>.Empty.WithComparer(StringComparer.Ordinal),
            ImmutableHashSet<string>.Empty.WithComparer(StringComparer.Ordinal));
    }

    /// <summary>The node at a valid absolute path, or null.</summary>
    public ZNode? Find(ReadOnlySpan<char> path)
    {
        var node = Root;
        var rest = path[1..];
        while (!rest.IsEmpty)
        {
            var slash = rest.IndexOf('/');
            var name = slash < 0 ? rest : rest[..slash];
            node = node.Children.Find(name);
            if (node is null)
            {
                return null;
            }

            rest = slash < 0 ? [] : rest[(slash + 1)..];
        }

        return node;
    }

    public TreeState With(
        ZNode? root = null,
        Zxid? zxid = null,
        ImmutableDictionary<SessionId, SessionEntry>? sessions = null,
        ImmutableDictionary<SessionId, ImmutableHashSet<string>>? ephemerals = null,
        ImmutableHashSet<string>? containers = null,
        ImmutableHashSet<string>? ttls = null,
        ImmutableHashSet<string>? quotas = null) =>
        new(root ?? Root, zxid ?? Zxid, sessions ?? Sessions, ephemerals ?? Ephemerals, containers ?? Containers, ttls ?? Ttls, quotas ?? Quotas);

    /// <summary>This state with <see cref="Quotas"/> rebuilt from the /zookeeper/quota subtree (after loading a snapshot).</summary>
    public TreeState WithQuotasFromTree()
    {
        var quotas = ImmutableHashSet<string>.Empty.WithComparer(StringComparer.Ordinal).ToBuilder();
        if (Find(QuotaRules.Root) is { } quotaRoot)
        {
            Collect(quotaRoot, QuotaRules.Root, quotas);
        }

        return With(quotas: quotas.ToImmutable());

        static void Collect(ZNode node, string path, ImmutableHashSet<string>.Builder found)
        {
            foreach (var name in node.Children.Names())
            {
                var child = node.Children.Find(name)!;
                var childPath = path + "/" + name;
                if (name == QuotaRules.LimitNode)
                {
                    found.Add(QuotaRules.Trim(path));
                }

                Collect(child, childPath, found);
            }
        }
    }

    /// <summary>
    /// A new root in which the node at <paramref name="path"/> is replaced by <paramref name="change"/>'s result and
    /// every ancestor is copied to point at it. The node must exist.
    /// </summary>
    public static ZNode Rewrite<TChange>(ZNode node, ReadOnlySpan<char> path, ref TChange change)
        where TChange : struct, INodeChange
    {
        if (path.Length <= 1)
        {
            return change.Apply(node);
        }

        return RewriteBelow(node, path[1..], ref change);
    }

    private static ZNode RewriteBelow<TChange>(ZNode node, ReadOnlySpan<char> rest, ref TChange change)
        where TChange : struct, INodeChange
    {
        var slash = rest.IndexOf('/');
        var name = slash < 0 ? rest : rest[..slash];
        var child = node.Children.Find(name) ?? throw new InvalidOperationException($"No node {name} under {node.Name} while rewriting.");
        var newChild = slash < 0 ? change.Apply(child) : RewriteBelow(child, rest[(slash + 1)..], ref change);
        return node.WithChildReplaced(child, newChild);
    }
}

/// <summary>A change to one node, applied by <see cref="TreeState.Rewrite"/>; a struct so rewriting allocates only nodes.</summary>
internal interface INodeChange
{
    ZNode Apply(ZNode target);
}

/// <summary>A session as the replicated state knows it.</summary>
internal sealed record SessionEntry(SessionId SessionId, int TimeoutMillis);
