namespace Zk.Embedded.Api;

/// <summary>ZooKeeper's permission bits (<c>ZooDefs.Perms</c>).</summary>
[Flags]
public enum Perms
{
    None = 0,
    Read = 1,
    Write = 2,
    Create = 4,
    Delete = 8,
    Admin = 16,
    All = Read | Write | Create | Delete | Admin,
}

/// <summary>An authenticated identity: a scheme (world, auth, digest, ip, super) and an id within it.</summary>
public sealed record Id(string Scheme, string Identity)
{
    /// <summary>world:anyone — everybody.</summary>
    public static readonly Id Anyone = new("world", "anyone");

    /// <summary>auth: — in a create or setACL, replaced by every identity the session has authenticated.</summary>
    public static readonly Id AuthIds = new("auth", "");

    public override string ToString() => $"{Scheme}:{Identity}";
}

/// <summary>One ACL entry: what <see cref="Id"/> may do.</summary>
public sealed record Acl(Perms Perms, Id Id)
{
    /// <summary>world:anyone with every permission (ZooKeeper's OPEN_ACL_UNSAFE).</summary>
    public static readonly IReadOnlyList<Acl> OpenUnsafe = [new(Perms.All, Id.Anyone)];

    /// <summary>Every permission for the identities the session authenticated with (CREATOR_ALL_ACL).</summary>
    public static readonly IReadOnlyList<Acl> CreatorAll = [new(Perms.All, Id.AuthIds)];

    /// <summary>world:anyone may read (READ_ACL_UNSAFE).</summary>
    public static readonly IReadOnlyList<Acl> ReadUnsafe = [new(Perms.Read, Id.Anyone)];
}

/// <summary>One identity of a session as whoAmI reports it (ZooKeeper's <c>ClientInfo</c>): for digest, the user name only.</summary>
public sealed record ClientInfo(string AuthScheme, string User);
