using Zk.Embedded.Api;

namespace Zk.Embedded.Tree;

/// <summary>
/// One znode, immutable. A change makes a new ZNode (and new copies of its ancestors, see <see cref="TreeState"/>),
/// so a reader that found a node sees all of its fields from one moment.
/// </summary>
/// <remarks>
/// Kept small on purpose: memory per znode is a tracked figure. The node stores its name, not its path; children
/// live in a <see cref="ChildMap"/>; the ACL is a shared, interned list. <see cref="CreateCount"/> is ZooKeeper's
/// internal cversion (creates only), from which both the sequence suffix and the reported cversion derive.
/// </remarks>
internal sealed class ZNode
{
    /// <summary>ZooKeeper's marker owner for containers (<c>EphemeralType.CONTAINER_EPHEMERAL_OWNER</c>).</summary>
    public const long ContainerOwner = long.MinValue;

    /// <summary>High byte that marks a TTL node's owner field; the low bits hold the TTL in ms (<c>EphemeralType.TTL</c>).</summary>
    public const long TtlMask = unchecked((long)0xFF00000000000000UL);

    /// <summary>The largest TTL ZooKeeper can store (its EXTENDED_FEATURE_VALUE_MASK).</summary>
    public const long MaxTtl = 0x000000FFFFFFFFFFL;

    public ZNode(
        string name,
        byte[]? data,
        AclList acl,
        ChildMap children,
        Zxid czxid,
        Zxid mzxid,
        Zxid pzxid,
        long ctime,
        long mtime,
        long ephemeralOwner,
        int version,
        int createCount,
        int aversion,
        int descendants)
    {
        Name = name;
        Data = data;
        Acl = acl;
        Children = children;
        Czxid = czxid;
        Mzxid = mzxid;
        Pzxid = pzxid;
        Ctime = ctime;
        Mtime = mtime;
        EphemeralOwner = ephemeralOwner;
        Version = version;
        CreateCount = createCount;
        Aversion = aversion;
        Descendants = descendants;
    }

    public string Name { get; }

    public byte[]? Data { get; }

    public AclList Acl { get; }

    public ChildMap Children { get; }

    public Zxid Czxid { get; }

    public Zxid Mzxid { get; }

    public Zxid Pzxid { get; }

    public long Ctime { get; }

    public long Mtime { get; }

    /// <summary>Raw owner: a session id, <see cref="ContainerOwner"/>, a TTL-marked value, or 0.</summary>
    public long EphemeralOwner { get; }

    public int Version { get; }

    /// <summary>Number of child creates ever (ZooKeeper's internal cversion).</summary>
    public int CreateCount { get; }

    public int Aversion { get; }

    /// <summary>Number of nodes below this one, kept so getAllChildrenNumber and the node count cost nothing.</summary>
    public int Descendants { get; }

    public bool IsContainer => EphemeralOwner == ContainerOwner;

    public bool IsTtl => EphemeralOwner != ContainerOwner && (EphemeralOwner & TtlMask) == TtlMask;

    /// <summary>An ephemeral's owning session, or session 0 for persistent, container and TTL nodes.</summary>
    public SessionId OwnerSession => new(EphemeralOwner == ContainerOwner || (EphemeralOwner & TtlMask) == TtlMask ? 0 : EphemeralOwner);

    public long TtlMillis => IsTtl ? EphemeralOwner & MaxTtl : 0;

    /// <summary>
    /// The Stat a client sees (<c>DataNode.copyStat</c>): cversion counts creates and deletes. The one place the stored
    /// zxids and owner become the <c>long</c>s of ZooKeeper's Stat.
    /// </summary>
    public Stat ToStat() => new(
        Czxid.Value,
        Mzxid.Value,
        Ctime,
        Mtime,
        Version,
        (CreateCount * 2) - Children.Count,
        Aversion,
        OwnerSession.Value,
        Data?.Length ?? 0,
        Children.Count,
        Pzxid.Value);

    public ZNode WithData(byte[]? data, int version, Zxid zxid, long time) =>
        new(Name, data, Acl, Children, Czxid, zxid, Pzxid, Ctime, time, EphemeralOwner, version, CreateCount, Aversion, Descendants);

    /// <summary>Data replaced without touching the stat: how ZooKeeper keeps quota stats nodes current.</summary>
    public ZNode WithRawData(byte[] data) =>
        new(Name, data, Acl, Children, Czxid, Mzxid, Pzxid, Ctime, Mtime, EphemeralOwner, Version, CreateCount, Aversion, Descendants);

    public ZNode WithAcl(AclList acl, int aversion) =>
        new(Name, Data, acl, Children, Czxid, Mzxid, Pzxid, Ctime, Mtime, EphemeralOwner, Version, CreateCount, aversion, Descendants);

    public ZNode WithChildAdded(ZNode child, int createCount, Zxid zxid) =>
        new(Name, Data, Acl, Children.Set(child), Czxid, Mzxid, Max(Pzxid, zxid), Ctime, Mtime, EphemeralOwner, Version,
            Math.Max(CreateCount, createCount), Aversion, Descendants + 1 + child.Descendants);

    public ZNode WithChildRemoved(ZNode child, Zxid zxid) =>
        new(Name, Data, Acl, Children.Remove(child.Name), Czxid, Mzxid, Max(Pzxid, zxid), Ctime, Mtime, EphemeralOwner, Version,
            CreateCount, Aversion, Descendants - 1 - child.Descendants);

    /// <summary>This node with <paramref name="child"/> put in place of its namesake (descendant count adjusted).</summary>
    public ZNode WithChildReplaced(ZNode oldChild, ZNode child) =>
        new(Name, Data, Acl, Children.Set(child), Czxid, Mzxid, Pzxid, Ctime, Mtime, EphemeralOwner, Version, CreateCount, Aversion,
            Descendants - oldChild.Descendants + child.Descendants);

    public static ZNode NewLeaf(string name, byte[]? data, AclList acl, Zxid zxid, long time, long ephemeralOwner) =>
        new(name, data, acl, ChildMap.Empty, zxid, zxid, zxid, time, time, ephemeralOwner, 0, 0, 0, 0);

    private static Zxid Max(Zxid a, Zxid b) => a >= b ? a : b;
}
