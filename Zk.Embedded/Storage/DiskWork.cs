namespace Zk.Embedded.Storage;

/// <summary>
/// Starts blocking disk work on a thread of its own: work of milliseconds to seconds (a log checkpoint, a snapshot,
/// zero-filling a file) or of a member's lifetime (its storage worker). On the thread pool it would hold one of the
/// pool's few workers (two on a 2-core machine; the pool adds more only after a while) and every continuation of the
/// write path would queue behind it: 64 in-process writers all stalled for 15–48 ms at once while a background
/// checkpoint held a pool thread (docs/performance-history/2026-12-06-thread-pool-stalls.md). A thread per piece of
/// work costs ~0.1 ms to start, and these start tens of times a second at most (zero-filling under heavy writes).
/// </summary>
internal static class DiskWork
{
    public static Task Start(Action work) =>
        Task.Factory.StartNew(work, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    public static Task<T> Start<T>(Func<T> work) =>
        Task.Factory.StartNew(work, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
}
