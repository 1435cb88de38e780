using Zk.Embedded.Api;

namespace Zk.Embedded.Recipes;

/// <summary>
/// Curator's protected create (<c>CreateBuilder.withProtection</c>): the node's name starts with <c>_c_&lt;uuid&gt;-</c>,
/// so after a ConnectionLoss on the create, when the client cannot know whether the server made the node, it finds
/// its own node among the parent's children by that prefix instead of creating a second one (an orphan that would
/// hold a lock or a place in line for the rest of the session). Parents are created as containers, as Curator's
/// <c>creatingParentContainersIfNeeded</c> does, so the server removes them once the last child is gone.
/// </summary>
internal static class ProtectedCreate
{
    /// <summary>Curator's <c>ProtectedUtils.PROTECTED_PREFIX</c>.</summary>
    public const string Prefix = "_c_";

    /// <summary>A create that meets NoNode after making the parents is tried again this often (a parent container may be removed in between).</summary>
    private const int ParentAttempts = 5;

    /// <summary>A fresh protected name: <c>_c_&lt;uuid&gt;-&lt;name&gt;</c>, the uuid lower case with dashes as Java's UUID prints it.</summary>
    public static string ProtectedName(Guid id, string name) => $"{Prefix}{id:D}-{name}";

    /// <summary>Creates <c>parent/_c_&lt;uuid&gt;-name</c> (sequential per mode) and returns its path and stat.</summary>
    public static async ValueTask<CreateResult> CreateAsync(IZooKeeper zk, string parent, string name, byte[]? data, CreateMode mode, CancellationToken cancellationToken)
    {
        var id = Guid.NewGuid();
        var path = ZkPaths.Join(parent, ProtectedName(id, name));
        var prefix = $"{Prefix}{id:D}-";
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await zk.CreateWithStatAsync(path, data, Acl.OpenUnsafe, mode, -1, cancellationToken).ConfigureAwait(false);
            }
            catch (ZkException e) when (e.Code == ZkErrorCode.NoNode && attempt < ParentAttempts)
            {
                await ZkPaths.CreateParentContainersAsync(zk, parent, cancellationToken).ConfigureAwait(false);
            }
            catch (ZkException e) when (e.Code == ZkErrorCode.ConnectionLoss)
            {
                await SessionRetry.WaitUntilConnectedAsync(zk, attempt, cancellationToken).ConfigureAwait(false);
                var found = await FindAsync(zk, parent, prefix, cancellationToken).ConfigureAwait(false);
                if (found is not null)
                {
                    return found;
                }
            }
        }
    }

    /// <summary>The child of <paramref name="parent"/> whose name starts with <paramref name="prefix"/>, with its stat; null when none.</summary>
    private static async ValueTask<CreateResult?> FindAsync(IZooKeeper zk, string parent, string prefix, CancellationToken cancellationToken)
    {
        IReadOnlyList<string> children;
        try
        {
            children = await SessionRetry.RunAsync(zk, parent, static (z, p, ct) => z.GetChildrenAsync(p, null, ct), cancellationToken).ConfigureAwait(false);
        }
        catch (ZkException e) when (e.Code == ZkErrorCode.NoNode)
        {
            return null;
        }

        foreach (var child in children)
        {
            if (child.StartsWith(prefix, StringComparison.Ordinal))
            {
                var path = ZkPaths.Join(parent, child);
                var stat = await SessionRetry.RunAsync(zk, path, static (z, p, ct) => z.ExistsAsync(p, null, ct), cancellationToken).ConfigureAwait(false);
                if (stat is { } found)
                {
                    return new CreateResult(path, found);
                }
            }
        }

        return null;
    }
}
