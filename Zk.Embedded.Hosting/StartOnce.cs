namespace Zk.Embedded.Hosting;

/// <summary>
/// A resource started on first demand, lazily or when the host starts, whichever comes first, and shared by every
/// caller; stopped once, after which nothing starts it again (the host is stopping).
/// </summary>
internal sealed class StartOnce<T>(string owner)
    where T : class
{
    private readonly Lock _lock = new();
    private Task<T>? _started;

    /// <summary>The resource once it started successfully, else null.</summary>
    public T? Value => _started is { IsCompletedSuccessfully: true } started ? started.Result : null;

    /// <summary>The one start: <paramref name="start"/> runs on the first call only; every call gets its task.</summary>
    public Task<T> GetAsync(Func<Task<T>> start)
    {
        lock (_lock)
        {
            return _started ??= start();
        }
    }

    /// <summary>
    /// Makes later calls fail with <see cref="ObjectDisposedException"/>, then waits for a start under way, so nothing
    /// it makes outlives the host. Returns what started, for the caller to close, or null when nothing did.
    /// </summary>
    public async Task<T?> StopAsync()
    {
        Task<T>? started;
        lock (_lock)
        {
            started = _started;
            _started = Task.FromException<T>(new ObjectDisposedException(owner));
        }

        try
        {
            return started is null ? null : await started.ConfigureAwait(false);
        }
        catch (Exception)
        {
            // It never started: nothing to stop. The failure went to whoever asked for it.
            return null;
        }
    }
}
