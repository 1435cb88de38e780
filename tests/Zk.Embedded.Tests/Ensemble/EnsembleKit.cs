using Zk.Testing;
using Xunit.Abstractions;
using Zk.Embedded.Api;
using Zk.Embedded.Tests.Replication;
using Zk.Embedded.Tests.Support;
using Zk.Transport.InMemory;

namespace Zk.Embedded.Tests.Ensemble;

/// <summary>Starting <see cref="InMemoryEnsemble"/>s with a printed seed, and the waits their tests share.</summary>
internal static class EnsembleKit
{
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    /// <summary>Starts <paramref name="voters"/> voters on a network whose seed is printed (ZK_SEED replays one).</summary>
    public static async Task<InMemoryEnsemble> StartAsync(ITestOutputHelper output, TraceLogger log, int voters,
        Func<InMemoryEnsembleOptions, InMemoryEnsembleOptions>? configure = null)
    {
        var seed = Environment.GetEnvironmentVariable("ZK_SEED") is { } s ? int.Parse(s) : Random.Shared.Next();
        output.WriteLine($"network seed={seed} (set ZK_SEED to replay)");
        var options = new InMemoryEnsembleOptions { Network = new InMemoryNetworkOptions { Seed = seed }, WaitTimeout = Deadline, LoggerFactory = log };
        var ensemble = await InMemoryEnsemble.StartAsync(voters, configure?.Invoke(options) ?? options);
        // Every member synced, not just a leader elected: a test that then crashes a follower must leave a quorum.
        await WaitAsync(() => ensemble.Running.All(p => p.IsServing), () => "expected every member to serve after the start: "
            + string.Join(", ", ensemble.Running.Select(p => $"{p.Options.ServerId} {p.Mode}")));
        return ensemble;
    }

    /// <summary>A write in flight when the leader crashed fails with ConnectionLoss; a client tries again (as ZooKeeper's do).</summary>
    public static async Task RetryOnConnectionLossAsync(Func<Task> write)
    {
        var deadline = DateTime.UtcNow + Deadline;
        while (true)
        {
            try
            {
                await write();
                return;
            }
            catch (ZkException e) when (e.Code == ZkErrorCode.ConnectionLoss && DateTime.UtcNow < deadline)
            {
                await Task.Delay(20);
            }
        }
    }

    /// <summary>Every running member satisfies <paramref name="holds"/> and all trees are identical.</summary>
    public static async Task AssertConvergedAsync(InMemoryEnsemble ensemble, Func<ZkPeer, bool> holds)
    {
        string Describe() => string.Join(", ", ensemble.Running.Select(p =>
            $"server {p.Options.ServerId} {p.Mode} zxid {p.LastZxid:x} digest {TreeDigest.Of(p.Core.Pipeline.State)[..12]} holds={holds(p)}"));
        await WaitAsync(() => ensemble.Running.All(holds)
            && ensemble.Running.Select(p => TreeDigest.Of(p.Core.Pipeline.State)).Distinct().Count() == 1,
            () => $"expected every member to converge on identical trees: {Describe()}");
    }

    public static async Task WaitAsync(Func<bool> condition, Func<string> failure)
    {
        var deadline = DateTime.UtcNow + Deadline;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
                Assert.Fail(failure());
            await Task.Delay(10);
        }
    }
}
