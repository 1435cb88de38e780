using Zk.Embedded.Api;
using Zk.Embedded.Tree;

namespace Zk.Embedded.Processing;

/// <summary>
/// Read operations against one immutable <see cref="TreeState"/>, with ZooKeeper's checks
/// (<c>FinalRequestProcessor</c>): path validity, existence, and the ACL permission each read needs.
/// </summary>
internal static class Reads
{
    /// <summary>getData: READ on the node.</summary>
    public static ZkErrorCode GetData(TreeState state, string path, IReadOnlyList<Id> ids, out ZNode? node) =>
        Find(state, path, ids, Perms.Read, out node);

    /// <summary>exists: no permission needed; a missing node is not an error.</summary>
    public static ZkErrorCode Exists(TreeState state, string path, out ZNode? node)
    {
        node = null;
        if (PathRules.Validate(path) is not null)
        {
            return ZkErrorCode.BadArguments;
        }

        node = state.Find(path);
        return ZkErrorCode.Ok;
    }

    /// <summary>getChildren and getAllChildrenNumber: READ on the node.</summary>
    public static ZkErrorCode GetChildren(TreeState state, string path, IReadOnlyList<Id> ids, out ZNode? node) =>
        Find(state, path, ids, Perms.Read, out node);

    /// <summary>getACL: READ or ADMIN on the node.</summary>
    public static ZkErrorCode GetAcl(TreeState state, string path, IReadOnlyList<Id> ids, out ZNode? node) =>
        Find(state, path, ids, Perms.Read | Perms.Admin, out node);

    /// <summary>
    /// The ACL a getACL caller may see (<c>FinalRequestProcessor</c>, getACL): all of it with ADMIN; otherwise digest
    /// ids have their hash replaced by "x", so READ alone does not leak password hashes.
    /// </summary>
    public static IReadOnlyList<Acl> VisibleAcl(ZNode node, IReadOnlyList<Id> ids)
    {
        if (AccessControl.IsAllowed(node.Acl, Perms.Admin, ids))
        {
            return node.Acl;
        }

        var visible = new Acl[node.Acl.Count];
        for (var i = 0; i < visible.Length; i++)
        {
            var entry = node.Acl[i];
            visible[i] = entry.Id.Scheme == "digest"
                ? entry with { Id = entry.Id with { Identity = HideDigest(entry.Id.Identity) } }
                : entry;
        }

        return visible;
    }

    /// <summary>whoAmI (<c>AuthUtil.getClientInfos</c>): each id with the user name its provider reports.</summary>
    public static IReadOnlyList<ClientInfo> WhoAmI(IReadOnlyList<Id> ids)
    {
        var infos = new ClientInfo[ids.Count];
        for (var i = 0; i < infos.Length; i++)
        {
            var id = ids[i];
            // DigestAuthenticationProvider.getUserName: the part before the first colon.
            var user = id.Scheme == "digest" ? id.Identity.Split(':')[0] : id.Identity;
            infos[i] = new ClientInfo(id.Scheme, user);
        }

        return infos;
    }

    private static string HideDigest(string identity)
    {
        var colon = identity.IndexOf(':');
        return colon < 0 ? identity : identity[..colon] + ":x";
    }

    /// <summary>The session's ephemerals under a prefix, sorted (ZooKeeper returns them in no particular order).</summary>
    public static ZkErrorCode GetEphemerals(TreeState state, SessionId sessionId, string prefix, out List<string> paths)
    {
        paths = [];
        if (PathRules.Validate(prefix) is not null)
        {
            return ZkErrorCode.BadArguments;
        }

        if (state.Ephemerals.TryGetValue(sessionId, out var owned))
        {
            foreach (var path in owned)
            {
                if (prefix == "/" || path.StartsWith(prefix, StringComparison.Ordinal))
                {
                    paths.Add(path);
                }
            }
        }

        paths.Sort(StringComparer.Ordinal);
        return ZkErrorCode.Ok;
    }

    private static ZkErrorCode Find(TreeState state, string path, IReadOnlyList<Id> ids, Perms perm, out ZNode? node)
    {
        node = null;
        if (PathRules.Validate(path) is not null)
        {
            return ZkErrorCode.BadArguments;
        }

        node = state.Find(path);
        if (node is null)
        {
            return ZkErrorCode.NoNode;
        }

        return AccessControl.IsAllowed(node.Acl, perm, ids) ? ZkErrorCode.Ok : ZkErrorCode.NoAuth;
    }
}
