using Zk.Embedded.Api;

namespace Zk.Embedded.Recipes;

/// <summary>
/// A barrier (Curator's <c>DistributedBarrier</c>, the ZooKeeper recipes' barrier): while the barrier node exists,
/// <see cref="WaitAsync"/> blocks; once it is removed, every waiter goes on.
/// </summary>
/// <remarks>
/// Guarantees: a waiter returns only after it saw the node absent (an exists watch, set again on each look and after
/// a state change). Not guaranteed: that every waiter sees a barrier that was set and removed quickly. The barrier
/// node is persistent: whoever sets it must remove it (it outlives the setter's session).
/// </remarks>
public sealed class DistributedBarrier
{
    private readonly IZooKeeper _zk;

    /// <summary>A barrier at <paramref name="path"/> on <paramref name="zk"/>.</summary>
    public DistributedBarrier(IZooKeeper zk, string path)
    {
        ArgumentNullException.ThrowIfNull(zk);
        _zk = zk;
        Path = ZkPaths.Validate(path, nameof(path));
    }

    /// <summary>The barrier node.</summary>
    public string Path { get; }

    /// <summary>Sets the barrier (creates its node, parents as containers); setting it twice is fine.</summary>
    public async ValueTask SetAsync(CancellationToken cancellationToken = default)
    {
        await ZkPaths.CreateParentContainersAsync(_zk, Path[..Path.LastIndexOf('/')] is { Length: > 0 } parent ? parent : "/", cancellationToken).ConfigureAwait(false);
        try
        {
            await SessionRetry.RunAsync(_zk, Path, static (z, p, ct) => z.CreateAsync(p, null, Acl.OpenUnsafe, CreateMode.Persistent, -1, ct), cancellationToken).ConfigureAwait(false);
        }
        catch (ZkException e) when (e.Code == ZkErrorCode.NodeExists)
        {
            // Set already (by another process, or by us before a ConnectionLoss).
        }
    }

    /// <summary>Removes the barrier, releasing every waiter; removing it twice is fine.</summary>
    public async ValueTask RemoveAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            await SessionRetry.RunAsync(_zk, Path, static async (z, p, ct) =>
            {
                await z.DeleteAsync(p, -1, ct).ConfigureAwait(false);
                return true;
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (ZkException e) when (e.Code == ZkErrorCode.NoNode)
        {
            // Removed already.
        }
    }

    /// <summary>Waits until the barrier is not set; returns at once when it is not.</summary>
    /// <exception cref="OperationCanceledException">canceled; the waiter's watch is removed first.</exception>
    public async ValueTask WaitAsync(CancellationToken cancellationToken = default)
    {
        while (true)
        {
            using var wait = new OneShotWait(_zk);
            var stat = await SessionRetry.RunAsync(_zk, (Path, wait.Watcher), static (z, s, ct) => z.ExistsAsync(s.Path, s.Watcher, ct), cancellationToken).ConfigureAwait(false);
            if (stat is null)
            {
                return;
            }

            await wait.WaitAsync(Path, WatcherType.Data, cancellationToken).ConfigureAwait(false);
        }
    }
}
