using Zk.Embedded.Api;

namespace Zk.Embedded.Recipes;

/// <summary>Path helpers of the recipes (Curator's <c>ZKPaths</c>).</summary>
internal static class ZkPaths
{
    public static string Join(string parent, string child) => parent == "/" ? "/" + child : parent + "/" + child;

    /// <summary>The last segment of a path.</summary>
    public static string NameOf(string path) => path[(path.LastIndexOf('/') + 1)..];

    /// <summary>Throws ArgumentException unless <paramref name="path"/> is absolute, not the root, and has no trailing slash.</summary>
    public static string Validate(string path, string parameter)
    {
        ArgumentException.ThrowIfNullOrEmpty(path, parameter);
        if (path[0] != '/' || path.Length == 1 || path[^1] == '/' || path.Contains("//", StringComparison.Ordinal))
        {
            throw new ArgumentException($"'{path}' is not a recipe path: it must be absolute, not the root, with no empty segment or trailing slash", parameter);
        }

        return path;
    }

    /// <summary>Creates <paramref name="path"/> and every missing ancestor as containers; existing ones are left as they are.</summary>
    public static async ValueTask CreateParentContainersAsync(IZooKeeper zk, string path, CancellationToken cancellationToken) =>
        await CreateAllAsync(zk, path, CreateMode.Container, cancellationToken).ConfigureAwait(false);

    /// <summary>Creates <paramref name="path"/> and its missing ancestors in <paramref name="mode"/> (Curator's <c>ZKPaths.mkdirs</c>).</summary>
    public static async ValueTask CreateAllAsync(IZooKeeper zk, string path, CreateMode mode, CancellationToken cancellationToken)
    {
        for (var end = path.IndexOf('/', 1); ; end = path.IndexOf('/', end + 1))
        {
            var prefix = end < 0 ? path : path[..end];
            try
            {
                await SessionRetry.RunAsync(zk, (prefix, mode), static (z, s, ct) => z.CreateAsync(s.prefix, null, Acl.OpenUnsafe, s.mode, -1, ct), cancellationToken).ConfigureAwait(false);
            }
            catch (ZkException e) when (e.Code == ZkErrorCode.NodeExists)
            {
                // Made by another client, or by us before a ConnectionLoss: either way it is there.
            }

            if (end < 0)
            {
                return;
            }
        }
    }
}
