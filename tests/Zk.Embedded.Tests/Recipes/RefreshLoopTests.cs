using Microsoft.Extensions.Logging.Abstractions;
using Zk.Embedded.Recipes;

namespace Zk.Embedded.Tests.Recipes;

/// <summary>The caches' one-reload-at-a-time loop: no request is dropped, whenever it comes.</summary>
public sealed class RefreshLoopTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task A_request_made_while_the_runner_is_stopping_still_gets_its_own_reload()
    {
        // The race behind a TreeCache that missed a change: a watch fired just as the runner found nothing pending,
        // saw the runner's task not yet complete, and was answered by that task without a reload.
        var reloads = 0;
        var loop = new RefreshLoop(_ =>
        {
            Interlocked.Increment(ref reloads);
            return Task.CompletedTask;
        }, "/cfg", NullLogger.Instance, CancellationToken.None);
        var late = new TaskCompletionSource<Task>(TaskCreationOptions.RunContinuationsAsynchronously);
        var fired = 0;
        loop.RunnerStopping = () =>
        {
            // Only the first runner's stop: the runner this request starts stops too, and could get here before the
            // first one's SetResult (a check of late.Task.IsCompleted raced that way once in CI).
            if (Interlocked.Exchange(ref fired, 1) == 0)
            {
                late.SetResult(loop.RequestAsync());
            }
        };

        await loop.RequestAsync().WaitAsync(Deadline);
        await (await late.Task.WaitAsync(Deadline)).WaitAsync(Deadline);

        Assert.True(reloads == 2, $"expected a second reload for the request made while the runner stopped, saw {reloads} reloads");
    }

    [Fact]
    public async Task Requests_during_a_reload_make_one_more_reload_after_it_never_two_at_once()
    {
        var running = 0;
        var overlapped = false;
        var reloads = 0;
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var loop = new RefreshLoop(async _ =>
        {
            overlapped |= Interlocked.Increment(ref running) > 1;
            if (Interlocked.Increment(ref reloads) == 1)
            {
                started.SetResult();
                await gate.Task;
            }

            Interlocked.Decrement(ref running);
        }, "/cfg", NullLogger.Instance, CancellationToken.None);

        var first = loop.RequestAsync();
        await started.Task.WaitAsync(Deadline);
        var second = loop.RequestAsync();
        var third = loop.RequestAsync();
        gate.SetResult();
        await Task.WhenAll(first, second, third).WaitAsync(Deadline);

        Assert.False(overlapped, "two reloads ran at once");
        Assert.True(reloads == 2, $"expected the first reload and one more for the two requests made during it, saw {reloads}");
    }
}
