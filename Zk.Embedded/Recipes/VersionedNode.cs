using Zk.Embedded.Api;

namespace Zk.Embedded.Recipes;

/// <summary>
/// Compare-and-set on one node's data version, the ground of the counters (Curator's <c>DistributedAtomicValue</c>
/// optimistic mode): read data and version, then write only if the version is still the one read.
/// </summary>
internal static class VersionedNode
{
    /// <summary>The node's data and version; null when it does not exist.</summary>
    public static async ValueTask<DataResult?> ReadAsync(IZooKeeper zk, string path, CancellationToken cancellationToken)
    {
        try
        {
            return await SessionRetry.RunAsync(zk, path, static (z, p, ct) => z.GetDataAsync(p, null, ct), cancellationToken).ConfigureAwait(false);
        }
        catch (ZkException e) when (e.Code == ZkErrorCode.NoNode)
        {
            return null;
        }
    }

    /// <summary>
    /// Writes <paramref name="data"/> if the node is still at <paramref name="seen"/>'s version, or creates it (parents
    /// as containers) when <paramref name="seen"/> is null; false when another writer came first. After a ConnectionLoss
    /// (the write may or may not have happened) it reads again once connected: the node at the next version holding
    /// exactly <paramref name="data"/> counts as this write (Curator's retry would count it as lost and apply it twice).
    /// </summary>
    public static async ValueTask<bool> TryWriteAsync(IZooKeeper zk, string path, DataResult? seen, byte[] data, CancellationToken cancellationToken)
    {
        try
        {
            if (seen is { } read)
            {
                await zk.SetDataAsync(path, data, read.Stat.Version, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await ZkPaths.CreateParentContainersAsync(zk, path[..path.LastIndexOf('/')] is { Length: > 0 } parent ? parent : "/", cancellationToken).ConfigureAwait(false);
                await zk.CreateAsync(path, data, Acl.OpenUnsafe, CreateMode.Persistent, -1, cancellationToken).ConfigureAwait(false);
            }

            return true;
        }
        catch (ZkException e) when (e.Code is ZkErrorCode.BadVersion or ZkErrorCode.NoNode or ZkErrorCode.NodeExists)
        {
            return false;
        }
        catch (ZkException e) when (e.Code == ZkErrorCode.ConnectionLoss)
        {
            await SessionRetry.WaitUntilConnectedAsync(zk, 1, cancellationToken).ConfigureAwait(false);
            var now = await ReadAsync(zk, path, cancellationToken).ConfigureAwait(false);
            return now is { } after && after.Stat.Version == (seen?.Stat.Version + 1 ?? 0) && after.Data.Span.SequenceEqual(data);
        }
    }

    /// <summary>Applies <paramref name="next"/> to the current data (null when absent) until a write wins; returns the data written.</summary>
    public static async ValueTask<byte[]> UpdateAsync(IZooKeeper zk, string path, Func<ReadOnlyMemory<byte>?, byte[]> next, CancellationToken cancellationToken)
    {
        while (true)
        {
            var seen = await ReadAsync(zk, path, cancellationToken).ConfigureAwait(false);
            var data = next(seen?.Data);
            if (await TryWriteAsync(zk, path, seen, data, cancellationToken).ConfigureAwait(false))
            {
                return data;
            }
        }
    }
}
