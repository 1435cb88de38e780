using Zk.Embedded;
using Zk.Embedded.Api;
using Zk.Transport.InMemory;

namespace Zk.Bench.Ensemble;

/// <summary>Waits on and sessions with an ensemble's members, so that a measurement starts from a settled ensemble.</summary>
internal static class Members
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private static int s_refusedConnects;

    /// <summary>Session opens refused with ConnectionLoss although every member served with the same leader (printed with the results).</summary>
    public static int RefusedConnects => Volatile.Read(ref s_refusedConnects);

    /// <summary>
    /// Waits until every running member serves with one leader (the fixture's start waits for a quorum only, and a
    /// member still syncing refuses sessions with ConnectionLoss); returns that leader. A leader other than
    /// <paramref name="expected"/> is reported on stderr: on a loaded machine a member can miss syncLimit ticks.
    /// </summary>
    public static async Task<int> WaitAllServingAsync(InMemoryEnsemble ensemble, int? expected = null)
    {
        var deadline = DateTime.UtcNow + Deadline;
        while (true)
        {
            var running = ensemble.Running;
            if (running.Count > 0 && running[0].LeaderId is { } leader && running.All(p => p.IsServing && p.LeaderId == leader))
            {
                if (expected is { } was && was != leader)
                    await Console.Error.WriteLineAsync($"the leader changed from server {was} to server {leader}").ConfigureAwait(false);
                return leader;
            }

            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"not every member serves with one leader after {Deadline.TotalSeconds} s: {Describe(ensemble)}");
            await Task.Delay(10).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Opens a session on member <paramref name="pick"/>(leader) once every member serves with one leader. A refusal
    /// with ConnectionLoss then is counted, reported on stderr with the members' state, and retried twice.
    /// </summary>
    public static async ValueTask<IZooKeeper> ConnectAsync(InMemoryEnsemble ensemble, Func<int, int> pick, ZkSessionOptions? options = null)
    {
        for (var attempt = 1; ; attempt++)
        {
            var id = pick(await WaitAllServingAsync(ensemble).ConfigureAwait(false));
            try
            {
                return await ensemble.ConnectAsync(id, options).ConfigureAwait(false);
            }
            catch (ZkException e) when (e.Code == ZkErrorCode.ConnectionLoss && attempt < 3)
            {
                Interlocked.Increment(ref s_refusedConnects);
                await Console.Error.WriteLineAsync($"session open on server {id} refused with ConnectionLoss ({e.Message}) while {Describe(ensemble)}; retrying").ConfigureAwait(false);
            }
        }
    }

    private static string Describe(InMemoryEnsemble ensemble) =>
        string.Join(", ", ensemble.Running.Select(p => $"server {p.Options.ServerId} {p.Mode} serving={p.IsServing} leader={p.LeaderId}")) + $" (network seed {ensemble.Seed})";
}
