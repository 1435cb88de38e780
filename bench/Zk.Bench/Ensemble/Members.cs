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
    /// The fixture's start waits for a quorum only; a row that connects to every member needs all of them following
    /// the same leader (a member still syncing refuses sessions with ConnectionLoss). A leader change between rows
    /// would mix two leaders' figures, so it ends the run.
    /// </summary>
    public static async Task WaitAllServingAsync(InMemoryEnsemble ensemble, int leader)
    {
        var deadline = DateTime.UtcNow + Deadline;
        while (!ensemble.Running.All(p => p.IsServing && p.LeaderId == leader))
        {
            if (ensemble.Leader is { } now && now != leader)
                throw new InvalidOperationException($"the leader changed during the measurement (was server {leader}, now {now}, network seed {ensemble.Seed})");
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"not every member serves with leader {leader} after {Deadline.TotalSeconds} s: {Describe(ensemble)}");
            await Task.Delay(10).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Opens a session on <paramref name="id"/> once every member serves with <paramref name="leader"/>. A refusal with
    /// ConnectionLoss then is counted, reported on stderr with the members' state, and retried twice.
    /// </summary>
    public static async ValueTask<IZooKeeper> ConnectAsync(InMemoryEnsemble ensemble, int id, int leader, ZkSessionOptions? options = null)
    {
        for (var attempt = 1; ; attempt++)
        {
            await WaitAllServingAsync(ensemble, leader).ConfigureAwait(false);
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
