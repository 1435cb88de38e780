using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Zk.Embedded.Api;

namespace Zk.Embedded.Recipes;

/// <summary>
/// A read-write lock across processes: Curator's <c>InterProcessReadWriteLock</c> protocol, node for node, so .NET
/// and Java (Curator) processes can share a lock path.
/// </summary>
/// <remarks>
/// <para>Protocol: readers create <c>lockPath/_c_&lt;uuid&gt;-__READ__&lt;seq&gt;</c>, writers
/// <c>lockPath/_c_&lt;uuid&gt;-__WRIT__&lt;seq&gt;</c> (protected ephemeral-sequential, parents as containers), ordered by
/// the shared sequence suffix. A writer holds when its node is first; otherwise it watches the node just before its
/// own. A reader holds when no writer's node comes before its own; otherwise it watches the first such writer.</para>
/// <para>Guarantees: while a writer holds, no other writer or reader holds; readers hold together; first come, first
/// served (a reader behind a waiting writer waits too, so writers do not starve); a waiter that times out, is
/// canceled or fails deletes its node before returning.</para>
/// <para>Not guaranteed: re-entry or downgrading (Curator lets the thread that holds the write lock take the read
/// lock; here each acquisition is a new contender, so asking for the read lock while holding the write lock waits
/// for that write lease); that a holder learns of a loss at once. A read lease's fencing token orders it after the
/// writers before it, but readers share it with each other: fence writes only.</para>
/// </remarks>
public static class DistributedReadWriteLock
{
    /// <summary>Curator's <c>InterProcessReadWriteLock.READ_LOCK_NAME</c>.</summary>
    internal const string ReadName = "__READ__";

    /// <summary>Curator's <c>InterProcessReadWriteLock.WRITE_LOCK_NAME</c>.</summary>
    internal const string WriteName = "__WRIT__";

    private static readonly string[] SortNames = [ReadName, WriteName];

    /// <summary>Waits until this session holds the read lock at <paramref name="lockPath"/> (shared with other readers).</summary>
    /// <exception cref="OperationCanceledException">canceled; the waiter's node is deleted first.</exception>
    /// <exception cref="ZkException">SessionExpired when the session ended; other codes as the session reports them.</exception>
    public static ValueTask<LockLease> AcquireReadLockAsync(this IZooKeeper zk, string lockPath, CancellationToken cancellationToken = default) =>
        AcquireReadLockAsync(zk, lockPath, null, cancellationToken);

    /// <summary>As <see cref="AcquireReadLockAsync(IZooKeeper, string, CancellationToken)"/>; the lease logs its acquisition, release and loss to <paramref name="logger"/>.</summary>
    public static async ValueTask<LockLease> AcquireReadLockAsync(this IZooKeeper zk, string lockPath, ILogger? logger, CancellationToken cancellationToken = default) =>
        await AcquireAsync(zk, lockPath, ReadName, null, logger, cancellationToken).ConfigureAwait(false) ?? throw Untimed();

    /// <summary>Waits at most <paramref name="timeout"/> for the read lock; null when it did not come (the waiter's node is deleted).</summary>
    public static ValueTask<LockLease?> TryAcquireReadLockAsync(this IZooKeeper zk, string lockPath, TimeSpan timeout, CancellationToken cancellationToken = default) =>
        TryAcquireReadLockAsync(zk, lockPath, timeout, null, cancellationToken);

    /// <summary>As <see cref="TryAcquireReadLockAsync(IZooKeeper, string, TimeSpan, CancellationToken)"/>; the lease logs its acquisition, release and loss to <paramref name="logger"/>.</summary>
    public static ValueTask<LockLease?> TryAcquireReadLockAsync(this IZooKeeper zk, string lockPath, TimeSpan timeout, ILogger? logger, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(timeout, TimeSpan.Zero);
        return AcquireAsync(zk, lockPath, ReadName, timeout, logger, cancellationToken);
    }

    /// <summary>Waits until this session holds the write lock at <paramref name="lockPath"/> (no other reader or writer holds).</summary>
    /// <exception cref="OperationCanceledException">canceled; the waiter's node is deleted first.</exception>
    /// <exception cref="ZkException">SessionExpired when the session ended; other codes as the session reports them.</exception>
    public static ValueTask<LockLease> AcquireWriteLockAsync(this IZooKeeper zk, string lockPath, CancellationToken cancellationToken = default) =>
        AcquireWriteLockAsync(zk, lockPath, null, cancellationToken);

    /// <summary>As <see cref="AcquireWriteLockAsync(IZooKeeper, string, CancellationToken)"/>; the lease logs its acquisition, release and loss to <paramref name="logger"/>.</summary>
    public static async ValueTask<LockLease> AcquireWriteLockAsync(this IZooKeeper zk, string lockPath, ILogger? logger, CancellationToken cancellationToken = default) =>
        await AcquireAsync(zk, lockPath, WriteName, null, logger, cancellationToken).ConfigureAwait(false) ?? throw Untimed();

    /// <summary>Waits at most <paramref name="timeout"/> for the write lock; null when it did not come (the waiter's node is deleted).</summary>
    public static ValueTask<LockLease?> TryAcquireWriteLockAsync(this IZooKeeper zk, string lockPath, TimeSpan timeout, CancellationToken cancellationToken = default) =>
        TryAcquireWriteLockAsync(zk, lockPath, timeout, null, cancellationToken);

    /// <summary>As <see cref="TryAcquireWriteLockAsync(IZooKeeper, string, TimeSpan, CancellationToken)"/>; the lease logs its acquisition, release and loss to <paramref name="logger"/>.</summary>
    public static ValueTask<LockLease?> TryAcquireWriteLockAsync(this IZooKeeper zk, string lockPath, TimeSpan timeout, ILogger? logger, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(timeout, TimeSpan.Zero);
        return AcquireAsync(zk, lockPath, WriteName, timeout, logger, cancellationToken);
    }

    /// <summary>Curator's <c>readLockPredicate</c>: a reader waits for the first writer ahead of it, if any.</summary>
    internal static string? ReaderTurn(List<string> sorted, int ourIndex)
    {
        for (var i = 0; i < ourIndex; i++)
        {
            if (sorted[i].Contains(WriteName, StringComparison.Ordinal))
            {
                return sorted[i];
            }
        }

        return null;
    }

    private static string? WriterTurn(List<string> sorted, int ourIndex) => ourIndex == 0 ? null : sorted[ourIndex - 1];

    private static async ValueTask<LockLease?> AcquireAsync(IZooKeeper zk, string lockPath, string name, TimeSpan? timeout, ILogger? logger, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(zk);
        ZkPaths.Validate(lockPath, nameof(lockPath));
        logger ??= NullLogger.Instance;
        var contender = new SequentialContender(zk, lockPath, name, SortNames, name == ReadName ? ReaderTurn : WriterTurn, logger);
        var node = await contender.AcquireAsync(null, timeout, cancellationToken).ConfigureAwait(false);
        return node is null ? null : new LockLease(zk, lockPath, node, TimeProvider.System, logger);
    }

    private static InvalidOperationException Untimed() => new("a lock without a timeout cannot time out");
}
