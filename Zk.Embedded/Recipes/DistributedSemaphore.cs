using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Zk.Embedded.Api;

namespace Zk.Embedded.Recipes;

/// <summary>
/// A counting semaphore across processes: at most N leases held at once. Curator's <c>InterProcessSemaphoreV2</c>
/// protocol, node for node, so .NET and Java (Curator) processes can share a semaphore path.
/// </summary>
/// <remarks>
/// <para>Protocol: a contender takes the exclusive lock <c>path/locks</c> (Curator's mutex, so waiters queue there
/// without a herd), creates its lease <c>path/leases/_c_&lt;uuid&gt;-lease-&lt;seq&gt;</c> (protected
/// ephemeral-sequential), and waits, still holding the lock, until the leases folder has at most N children
/// (a child watch on the folder); then it releases the lock. Releasing a lease deletes its node.</para>
/// <para>Guarantees: at most N leases whose sessions live, when every contender passes the same N (as in Curator, a
/// contender with a larger N may exceed a smaller one's limit); a waiter that times out, is canceled or fails deletes
/// its lease node and releases the lock before returning.</para>
/// <para>Not guaranteed: that a holder learns of a loss at once; the lease's fencing token is not exclusive (N holders).</para>
/// </remarks>
public static class DistributedSemaphore
{
    /// <summary>Curator's <c>InterProcessSemaphoreV2.LOCK_PARENT</c>.</summary>
    internal const string LockFolder = "locks";

    /// <summary>Curator's <c>InterProcessSemaphoreV2.LEASE_PARENT</c>.</summary>
    internal const string LeaseFolder = "leases";

    /// <summary>Curator's <c>InterProcessSemaphoreV2.LEASE_BASE_NAME</c>.</summary>
    internal const string LeaseName = "lease-";

    /// <summary>Waits until this session holds one of the <paramref name="maxLeases"/> leases at <paramref name="path"/>.</summary>
    /// <exception cref="OperationCanceledException">canceled; the waiter's nodes are deleted first.</exception>
    /// <exception cref="ZkException">SessionExpired when the session ended; other codes as the session reports them.</exception>
    public static ValueTask<LockLease> AcquireSemaphoreAsync(this IZooKeeper zk, string path, int maxLeases, CancellationToken cancellationToken = default) =>
        AcquireSemaphoreAsync(zk, path, maxLeases, null, cancellationToken);

    /// <summary>As <see cref="AcquireSemaphoreAsync(IZooKeeper, string, int, CancellationToken)"/>; the lease logs its acquisition, release and loss to <paramref name="logger"/>.</summary>
    public static async ValueTask<LockLease> AcquireSemaphoreAsync(this IZooKeeper zk, string path, int maxLeases, ILogger? logger, CancellationToken cancellationToken = default) =>
        await AcquireAsync(zk, path, maxLeases, null, logger ?? NullLogger.Instance, cancellationToken).ConfigureAwait(false)
        ?? throw new InvalidOperationException("a semaphore without a timeout cannot time out");

    /// <summary>Waits at most <paramref name="timeout"/> for a lease; null when none came (the waiter's nodes are deleted).</summary>
    public static ValueTask<LockLease?> TryAcquireSemaphoreAsync(this IZooKeeper zk, string path, int maxLeases, TimeSpan timeout, CancellationToken cancellationToken = default) =>
        TryAcquireSemaphoreAsync(zk, path, maxLeases, timeout, null, cancellationToken);

    /// <summary>As <see cref="TryAcquireSemaphoreAsync(IZooKeeper, string, int, TimeSpan, CancellationToken)"/>; the lease logs its acquisition, release and loss to <paramref name="logger"/>.</summary>
    public static ValueTask<LockLease?> TryAcquireSemaphoreAsync(this IZooKeeper zk, string path, int maxLeases, TimeSpan timeout, ILogger? logger, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(timeout, TimeSpan.Zero);
        return AcquireAsync(zk, path, maxLeases, timeout, logger ?? NullLogger.Instance, cancellationToken);
    }

    private static async ValueTask<LockLease?> AcquireAsync(IZooKeeper zk, string path, int maxLeases, TimeSpan? timeout, ILogger logger, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(zk);
        ZkPaths.Validate(path, nameof(path));
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLeases, 1);
        using var deadline = timeout is { } span ? new CancellationTokenSource(span) : null;
        using var linked = deadline is null ? null : CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        var token = linked?.Token ?? cancellationToken;
        try
        {
            await using var mutex = await DistributedLock.AcquireAsync(zk, ZkPaths.Join(path, LockFolder), timeout, TimeProvider.System, logger, cancellationToken).ConfigureAwait(false);
            if (mutex is null)
            {
                return null;
            }

            var lease = await TakeLeaseAsync(zk, ZkPaths.Join(path, LeaseFolder), maxLeases, logger, token).ConfigureAwait(false);
            return new LockLease(zk, path, lease, TimeProvider.System, logger);
        }
        catch (OperationCanceledException) when (deadline?.IsCancellationRequested == true && !cancellationToken.IsCancellationRequested)
        {
            return null;
        }
    }

    /// <summary>Creates our lease and waits until it is among the first <paramref name="maxLeases"/>; deletes it on any failure.</summary>
    private static async ValueTask<CreateResult> TakeLeaseAsync(IZooKeeper zk, string leases, int maxLeases, ILogger logger, CancellationToken cancellationToken)
    {
        var ours = await ProtectedCreate.CreateAsync(zk, leases, LeaseName, null, CreateMode.EphemeralSequential, cancellationToken).ConfigureAwait(false);
        var ourName = ZkPaths.NameOf(ours.Path);
        var holds = false;
        try
        {
            while (true)
            {
                using var wait = new OneShotWait(zk, logger);
                var children = await SessionRetry.RunAsync(zk, (leases, wait.Watcher), static (z, s, ct) => z.GetChildrenAsync(s.leases, s.Watcher, ct), cancellationToken, logger).ConfigureAwait(false);
                if (!children.Contains(ourName))
                {
                    throw new ZkException(ZkErrorCode.NoNode, ours.Path, $"Sequential path not found: {ours.Path} (deleted while waiting, or its session ended)");
                }

                if (children.Count <= maxLeases)
                {
                    holds = true;
                    return ours;
                }

                await wait.WaitAsync(leases, WatcherType.Children, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            if (!holds)
            {
                await SequentialContender.DeleteQuietlyAsync(zk, ours.Path, logger).ConfigureAwait(false);
            }
        }
    }
}
