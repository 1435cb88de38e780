using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Zk.Embedded.Api;

namespace Zk.Embedded.Recipes;

/// <summary>
/// An exclusive lock across processes, on any <see cref="IZooKeeper"/> session: Curator's <c>InterProcessMutex</c>
/// protocol, node for node, so .NET and Java (Curator) processes can share a lock path.
/// </summary>
/// <remarks>
/// <para>Protocol: each contender creates a protected ephemeral-sequential node <c>lockPath/_c_&lt;uuid&gt;-lock-&lt;seq&gt;</c>
/// (parents as containers); the lowest sequence holds the lock; every other contender watches only the node just
/// before its own and looks again when it goes. A ConnectionLoss during the create is recovered by finding the node
/// by its uuid, so no orphan node blocks the lock.</para>
/// <para>Guarantees: at most one holder whose session is alive and whose node exists; first come, first served;
/// a waiter that times out, is canceled or fails deletes its node before returning.</para>
/// <para>Not guaranteed: that a holder knows at once that it lost the lock (see <see cref="LockLease.State"/> and
/// <see cref="LockLease.FencingToken"/>); re-entry (each acquisition is a new contender).</para>
/// </remarks>
public static class DistributedLock
{
    /// <summary>Curator's lock node name (<c>InterProcessMutex.LOCK_NAME</c>).</summary>
    internal const string LockName = "lock-";

    /// <summary>Waits until this session holds the lock at <paramref name="lockPath"/>.</summary>
    /// <exception cref="OperationCanceledException">canceled; the waiter's node is deleted first.</exception>
    /// <exception cref="ZkException">SessionExpired when the session ended; other codes as the session reports them.</exception>
    public static ValueTask<LockLease> AcquireLockAsync(this IZooKeeper zk, string lockPath, CancellationToken cancellationToken = default) =>
        AcquireLockAsync(zk, lockPath, null, cancellationToken);

    /// <summary>
    /// Waits until this session holds the lock at <paramref name="lockPath"/>; the lease logs its acquisition, release,
    /// suspension and loss (with the fencing token) to <paramref name="logger"/>.
    /// </summary>
    /// <exception cref="OperationCanceledException">canceled; the waiter's node is deleted first.</exception>
    /// <exception cref="ZkException">SessionExpired when the session ended; other codes as the session reports them.</exception>
    public static async ValueTask<LockLease> AcquireLockAsync(this IZooKeeper zk, string lockPath, ILogger? logger, CancellationToken cancellationToken = default) =>
        await AcquireAsync(zk, lockPath, null, TimeProvider.System, logger, cancellationToken).ConfigureAwait(false)
        ?? throw new InvalidOperationException("a lock without a timeout cannot time out");

    /// <summary>Waits at most <paramref name="timeout"/> for the lock; null when it did not come (the waiter's node is deleted).</summary>
    public static ValueTask<LockLease?> TryAcquireLockAsync(this IZooKeeper zk, string lockPath, TimeSpan timeout, CancellationToken cancellationToken = default) =>
        TryAcquireLockAsync(zk, lockPath, timeout, null, cancellationToken);

    /// <summary>
    /// Waits at most <paramref name="timeout"/> for the lock; null when it did not come (the waiter's node is deleted).
    /// The lease logs its acquisition, release, suspension and loss to <paramref name="logger"/>.
    /// </summary>
    public static ValueTask<LockLease?> TryAcquireLockAsync(this IZooKeeper zk, string lockPath, TimeSpan timeout, ILogger? logger, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(timeout, TimeSpan.Zero);
        return AcquireAsync(zk, lockPath, timeout, TimeProvider.System, logger, cancellationToken);
    }

    internal static async ValueTask<LockLease?> AcquireAsync(IZooKeeper zk, string lockPath, TimeSpan? timeout, TimeProvider time, ILogger? logger, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(zk);
        ZkPaths.Validate(lockPath, nameof(lockPath));
        logger ??= NullLogger.Instance;
        var contender = new SequentialContender(zk, lockPath, LockName, maxLeases: 1, logger);
        var node = await contender.AcquireAsync(null, timeout, cancellationToken).ConfigureAwait(false);
        return node is null ? null : new LockLease(zk, lockPath, node, time, logger);
    }
}
