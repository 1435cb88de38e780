using Zk.Embedded.Api;

namespace Zk.Embedded.Recipes;

/// <summary>Creates a named ephemeral node (a registration, a membership) once, even when a ConnectionLoss hides whether the create happened.</summary>
internal static class EphemeralNode
{
    /// <summary>Creates <paramref name="path"/> (its folder as a persistent node when missing) as this session's ephemeral.</summary>
    /// <exception cref="ZkException">NodeExists when another session (or this one, earlier) holds the name.</exception>
    public static async ValueTask CreateAsync(IZooKeeper zk, string path, byte[]? data, CancellationToken cancellationToken)
    {
        await ZkPaths.CreateAllAsync(zk, path[..path.LastIndexOf('/')], CreateMode.Persistent, cancellationToken).ConfigureAwait(false);
        try
        {
            await zk.CreateAsync(path, data, Acl.OpenUnsafe, CreateMode.Ephemeral, -1, cancellationToken).ConfigureAwait(false);
        }
        catch (ZkException e) when (e.Code == ZkErrorCode.ConnectionLoss)
        {
            // Made or not: look after the reconnect; ours if this session owns it.
            await SessionRetry.WaitUntilConnectedAsync(zk, 1, cancellationToken).ConfigureAwait(false);
            var stat = await zk.ExistsAsync(path, null, cancellationToken).ConfigureAwait(false);
            if (stat?.EphemeralOwner != zk.SessionId)
            {
                await zk.CreateAsync(path, data, Acl.OpenUnsafe, CreateMode.Ephemeral, -1, cancellationToken).ConfigureAwait(false);
            }
        }
    }
}
