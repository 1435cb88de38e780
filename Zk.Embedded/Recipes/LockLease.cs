using Microsoft.Extensions.Logging;
using Zk.Embedded.Api;

namespace Zk.Embedded.Recipes;

/// <summary>
/// A held lease: an exclusive lock (<see cref="DistributedLock"/>), a read or write lock (<see cref="DistributedReadWriteLock"/>)
/// or a semaphore lease (<see cref="DistributedSemaphore"/>). Dispose it to release it; release deletes its
/// node, riding out a lost connection.
/// </summary>
/// <remarks>
/// <para>Not re-entrant: each acquisition is a separate contender, so acquiring the same path again while holding
/// a lease waits for this lease like any other process would. Pass the lease, not the path, to code that needs it.</para>
/// <para>No lock is safe against process pauses (a GC, a stopped VM) on its own: after a pause past the session
/// timeout another holder may act while this one still believes it holds. Guard each write to the protected resource
/// with <see cref="FencingToken"/>, which grows from holder to holder, and have the resource refuse a token smaller
/// than the largest it has seen.</para>
/// </remarks>
public sealed class LockLease : IAsyncDisposable
{
    private readonly IZooKeeper _zk;
    private readonly HeldNodeMonitor _monitor;
    private readonly ILogger _logger;
    private int _released;

    internal LockLease(IZooKeeper zk, string lockPath, CreateResult node, TimeProvider time, ILogger logger)
    {
        _zk = zk;
        _logger = logger;
        LockPath = lockPath;
        NodePath = node.Path;
        FencingToken = node.Stat.Czxid;
        _monitor = new HeldNodeMonitor(zk, node, time, logger);
        _monitor.StateChanged += state => StateChanged?.Invoke(state);
        Log.LockAcquired(logger, lockPath, NodePath, FencingToken);
    }

    /// <summary>The lock's path, as passed to acquire.</summary>
    public string LockPath { get; }

    /// <summary>This holder's lock node (<c>lockPath/_c_&lt;uuid&gt;-lock-&lt;seq&gt;</c>).</summary>
    public string NodePath { get; }

    /// <summary>
    /// The zxid that created the lock node. Each later holder of the same lock path has a larger one, since it queued
    /// after this holder and every create gets a larger zxid: a resource that refuses tokens below the largest it has
    /// seen refuses a holder that lost the lock without knowing it.
    /// </summary>
    public long FencingToken { get; }

    /// <summary>Where the lease stands: held, suspended (connection lost), lost, or released.</summary>
    public HoldState State => _monitor.State;

    /// <summary>Why the lease was lost (session ended, node deleted, no contact for the session timeout); null when it was not.</summary>
    public string? LossReason => _monitor.LossReason;

    /// <summary>
    /// Canceled once this process no longer holds the lock: lost, or released. Pass it to work guarded by the lock.
    /// It is not canceled on <see cref="HoldState.Suspended"/>: watch <see cref="StateChanged"/> for that.
    /// </summary>
    public CancellationToken Lost => _monitor.Ended;

    /// <summary>Raised on each change of <see cref="State"/>, on the session's event thread or a timer; handlers must not block.</summary>
    public event Action<HoldState>? StateChanged;

    /// <summary>Releases the lock: deletes the lock node (once; later calls do nothing). A lost lease has nothing left to delete.</summary>
    public async ValueTask ReleaseAsync()
    {
        if (Interlocked.Exchange(ref _released, 1) != 0)
        {
            return;
        }

        var before = _monitor.State;
        _monitor.Dispose();
        if (before != HoldState.Lost || !SessionRetry.HasEnded(_zk.State))
        {
            await SequentialContender.DeleteQuietlyAsync(_zk, NodePath, _logger).ConfigureAwait(false);
        }

        Log.LockReleased(_logger, LockPath, NodePath, FencingToken, before);
    }

    /// <inheritdoc cref="ReleaseAsync"/>
    public ValueTask DisposeAsync() => ReleaseAsync();

    public override string ToString() => $"lock {LockPath} held by {NodePath} (token 0x{FencingToken:x}, {State})";
}
