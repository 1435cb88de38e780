using Microsoft.Extensions.Logging;

namespace Zk.Embedded.Storage;

/// <summary>
/// Runs autopurge's deletions on a thread of their own (<see cref="DiskWork"/>), one purge at a time. Purging a long
/// log takes seconds (<see cref="TxnLog.PurgeThrough"/> lets writes take the lock between its steps); on the caller's
/// thread it would hold the autopurge timer's pool thread (the standalone peer) or every log write queued behind it (an
/// ensemble member's storage worker, which used to run it in order with its writes). A purge that fails is logged and
/// the next one tries again: the log stays contiguous whatever step failed.
/// </summary>
internal sealed class BackgroundPurge(ILogger logger)
{
    private readonly Lock _gate = new();
    private Task _running = Task.CompletedTask;
    private volatile bool _closing;

    /// <summary>The purge running, or a completed task (tests, and owners waiting for it).</summary>
    public Task Running
    {
        get { lock (_gate) { return _running; } }
    }

    /// <summary>Starts <paramref name="purge"/> unless one still runs or <see cref="Close"/> was called; false when it did not start.</summary>
    public bool TryStart(Action purge)
    {
        lock (_gate)
        {
            if (_closing || !_running.IsCompleted)
                return false;
            _running = DiskWork.Start(() =>
            {
                try
                {
                    purge();
                }
                catch (Exception e)
                {
                    // Closing disposes the log under the purge (ObjectDisposedException at its next step): not a failure.
                    if (!_closing)
                        Log.PurgeFailed(logger, e);
                }
            });
            return true;
        }
    }

    /// <summary>No purge starts after this. Returns the running one, which stops at its next step once its log is closed.</summary>
    public Task Close()
    {
        lock (_gate)
        {
            _closing = true;
            return _running;
        }
    }
}
