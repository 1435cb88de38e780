using Microsoft.Extensions.Logging;
using Zk.Embedded.Api;

namespace Zk.Embedded.Recipes;

/// <summary>
/// What every recipe does when a call fails with ConnectionLoss: wait until the session is connected again (the wire
/// client reconnects by itself) and try again, as Curator's RetryLoop does. SessionExpired and every other code end it.
/// </summary>
internal static class SessionRetry
{
    /// <summary>Between attempts, so a session that reports Connected a moment too long is not hammered.</summary>
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromMilliseconds(500);

    /// <summary>Runs <paramref name="call"/> until it does not fail with ConnectionLoss; giving up because the session ended is logged to <paramref name="logger"/>.</summary>
    public static async ValueTask<T> RunAsync<T, TState>(IZooKeeper zk, TState state, Func<IZooKeeper, TState, CancellationToken, ValueTask<T>> call, CancellationToken cancellationToken, ILogger? logger = null)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await call(zk, state, cancellationToken).ConfigureAwait(false);
            }
            catch (ZkException e) when (e.Code == ZkErrorCode.ConnectionLoss)
            {
                await WaitUntilConnectedAsync(zk, attempt, cancellationToken, logger).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Waits for the session to be connected; throws SessionExpired when it ended (expired, closed, auth failed).</summary>
    public static async ValueTask WaitUntilConnectedAsync(IZooKeeper zk, int attempt, CancellationToken cancellationToken, ILogger? logger = null)
    {
        var connected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnState(KeeperState state)
        {
            if (state is not KeeperState.Disconnected)
            {
                connected.TrySetResult();
            }
        }

        zk.StateChanged += OnState;
        try
        {
            ThrowIfEnded(zk, logger);
            if (zk.State is SessionState.Connecting)
            {
                await connected.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
                ThrowIfEnded(zk, logger);
            }
        }
        finally
        {
            zk.StateChanged -= OnState;
        }

        var backoff = TimeSpan.FromMilliseconds(Math.Min(MaxBackoff.TotalMilliseconds, 5 * attempt * attempt));
        await Task.Delay(backoff, cancellationToken).ConfigureAwait(false);
    }

    public static bool HasEnded(SessionState state) => state is SessionState.Expired or SessionState.Closed or SessionState.AuthFailed;

    private static void ThrowIfEnded(IZooKeeper zk, ILogger? logger)
    {
        if (HasEnded(zk.State))
        {
            if (logger is not null)
            {
                Log.RetryGaveUp(logger, zk.SessionId, zk.State);
            }

            throw new ZkException(ZkErrorCode.SessionExpired, null, $"the session 0x{zk.SessionId:x} ended ({zk.State}); a recipe cannot go on with it");
        }
    }
}
