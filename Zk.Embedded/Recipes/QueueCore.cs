using Zk.Embedded.Api;

namespace Zk.Embedded.Recipes;

/// <summary>
/// What the FIFO and the priority queue share (Curator's <c>DistributedQueue</c>): items are persistent sequential
/// nodes <c>path/queue-&lt;key&gt;&lt;seq&gt;</c> taken in plain name order; a consumer takes the first item it can
/// delete (getData, then delete: the delete decides who got it).
/// </summary>
internal sealed class QueueCore(IZooKeeper zk, string path)
{
    /// <summary>Curator's <c>DistributedQueue.QUEUE_ITEM_NAME</c>.</summary>
    public const string ItemName = "queue-";

    public string Path { get; } = ZkPaths.Validate(path, nameof(path));

    /// <summary>Adds an item named <c>queue-&lt;key&gt;&lt;seq&gt;</c>; returns its node.</summary>
    public async ValueTask<string> PutAsync(string key, byte[] data, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(data);
        var node = ZkPaths.Join(Path, ItemName + key);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                // Not retried on ConnectionLoss: a second create could add the item twice (see recipes.md).
                return await zk.CreateAsync(node, data, Acl.OpenUnsafe, CreateMode.PersistentSequential, -1, cancellationToken).ConfigureAwait(false);
            }
            catch (ZkException e) when (e.Code == ZkErrorCode.NoNode && attempt < 3)
            {
                await ZkPaths.CreateAllAsync(zk, Path, CreateMode.Persistent, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Takes the first item, waiting for one while the queue is empty; null when <paramref name="wait"/> is false and it is empty.</summary>
    public async ValueTask<byte[]?> TakeAsync(bool wait, CancellationToken cancellationToken)
    {
        while (true)
        {
            using var changed = new OneShotWait(zk);
            var items = await ItemsAsync(wait ? changed.Watcher : null, cancellationToken).ConfigureAwait(false);
            foreach (var item in items)
            {
                if (await TryTakeAsync(ZkPaths.Join(Path, item), cancellationToken).ConfigureAwait(false) is { } data)
                {
                    return data;
                }
            }

            if (items.Count > 0)
            {
                continue; // Others took them all; look again before waiting.
            }

            if (!wait)
            {
                return null;
            }

            await changed.WaitAsync(Path, WatcherType.Children, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The items' names in queue order (plain ordinal name order, as Curator's <c>sortChildren</c>).</summary>
    public async ValueTask<List<string>> ItemsAsync(Watcher? watcher, CancellationToken cancellationToken)
    {
        try
        {
            var children = await SessionRetry.RunAsync(zk, (Path, watcher), static (z, s, ct) => z.GetChildrenAsync(s.Path, s.watcher, ct), cancellationToken).ConfigureAwait(false);
            var items = children.Where(c => c.StartsWith(ItemName, StringComparison.Ordinal)).ToList();
            items.Sort(StringComparer.Ordinal);
            return items;
        }
        catch (ZkException e) when (e.Code == ZkErrorCode.NoNode)
        {
            // No folder, so no watch was set: make the folder and look again (with the watch).
            await ZkPaths.CreateAllAsync(zk, Path, CreateMode.Persistent, cancellationToken).ConfigureAwait(false);
            return await ItemsAsync(watcher, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Reads and deletes one item; null when another consumer deleted it first.</summary>
    private async ValueTask<byte[]?> TryTakeAsync(string item, CancellationToken cancellationToken)
    {
        try
        {
            var data = await SessionRetry.RunAsync(zk, item, static (z, p, ct) => z.GetDataAsync(p, null, ct), cancellationToken).ConfigureAwait(false);
            await SessionRetry.RunAsync(zk, (item, data.Stat.Version), static async (z, s, ct) =>
            {
                await z.DeleteAsync(s.item, s.Version, ct).ConfigureAwait(false);
                return true;
            }, cancellationToken).ConfigureAwait(false);
            return data.Data.ToArray();
        }
        catch (ZkException e) when (e.Code == ZkErrorCode.NoNode)
        {
            return null;
        }
    }
}
