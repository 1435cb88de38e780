using Xunit.Abstractions;
using Zk.Embedded.Api;
using Zk.Embedded.Recipes;
using Zk.Embedded.Storage;
using Zk.Embedded.Tests.Ensemble;
using Zk.Embedded.Txns;
using Zk.Transport.InMemory;
using Zk.Embedded.Tests.Recipes;
using Zk.Embedded.Tests.Support;
using Zk.Testing;

namespace Zk.Embedded.Tests.Testing;

/// <summary>
/// Zk.Testing's <see cref="FaultyEnsemble"/> as an application's test uses it: the same seed draws the same faults,
/// and a recipe run under crashes, partitions, one-way blocks and pauses keeps its guarantee while every member ends
/// with the same tree.
/// </summary>
[Collection(RunsAlone.Name)]
public sealed class FaultyEnsembleTests(ITestOutputHelper output)
{
    [Fact]
    public async Task The_same_seed_draws_the_same_faults_in_the_same_order()
    {
        var seed = RecipeTestKit.Next(output);
        var options = new FaultyEnsembleOptions { FaultInterval = TimeSpan.FromMilliseconds(100) };
        var schedules = new List<string[]>();
        for (var run = 0; run < 2; run++)
        {
            await using var chaos = await FaultyEnsemble.StartAsync(seed, options);
            await chaos.RunAsync(_ => Task.CompletedTask, TimeSpan.FromSeconds(1));
            schedules.Add([.. chaos.Schedule.Select(e => e.What)]);
            output.WriteLine($"run {run}: {string.Join(", ", schedules[^1])}");
            Assert.Null(await chaos.CheckConvergedAsync());
        }

        var common = Math.Min(schedules[0].Length, schedules[1].Length);
        Assert.True(common >= 4, $"expected at least two faults and their ends in each run, got {schedules[0].Length} and {schedules[1].Length}");
        Assert.Equal(schedules[0][..common], schedules[1][..common]);
    }

    [Fact]
    public async Task Connecting_to_a_member_that_is_down_is_a_ConnectionLoss_as_a_client_would_see_it()
    {
        await using var chaos = await FaultyEnsemble.StartAsync(RecipeTestKit.Next(output));
        // The leader, so that the others lose it too (the member a client finds first is as likely to be it).
        var down = await chaos.Ensemble.WaitForLeaderAsync();
        await chaos.Ensemble.CrashAsync(down);

        var e = await Assert.ThrowsAsync<ZkException>(async () => await chaos.ConnectAsync(down));
        Assert.Equal(ZkErrorCode.ConnectionLoss, e.Code);
        // Until the others have elected a new leader and synced with it, a member refuses sessions: a client retries.
        IZooKeeper elsewhere = null!;
        await EnsembleKit.RetryOnConnectionLossAsync(async () => elsewhere = await chaos.ConnectAsync());
        await using (elsewhere)
            Assert.NotNull(await elsewhere.ExistsAsync("/"));
    }

    [Fact]
    public async Task Counter_adds_under_seeded_faults_are_applied_exactly_once_and_every_member_converges()
    {
        var seed = RecipeTestKit.Next(output);
        await using var chaos = await FaultyEnsemble.StartAsync(seed);
        long acknowledged = 0, unknown = 0;

        await chaos.RunAsync(async stop =>
        {
            await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    IZooKeeper? session = null;
                    try
                    {
                        session = await chaos.ConnectAsync(options: new ZkSessionOptions { SessionTimeout = TimeSpan.FromSeconds(2) });
                        var counter = new DistributedAtomicLong(session, "/chaos/counter");
                        while (!stop.IsCancellationRequested)
                        {
                            await counter.IncrementAsync();
                            Interlocked.Increment(ref acknowledged);
                        }
                    }
                    catch (ZkException)
                    {
                        // A session lost with its member, or ended: the add in flight may or may not have happened.
                        Interlocked.Increment(ref unknown);
                    }
                    catch (ObjectDisposedException)
                    {
                        Interlocked.Increment(ref unknown);
                    }
                    finally
                    {
                        if (session is not null)
                            await session.DisposeAsync();
                    }
                }
            })));
        }, TimeSpan.FromSeconds(4));

        output.WriteLine($"seed {seed}: {string.Join(", ", chaos.Schedule.Select(e => $"{e.At.TotalMilliseconds:F0} ms {e.What}"))}");
        Assert.Null(await chaos.CheckConvergedAsync());
        await using var reader = await chaos.ConnectAsync();
        var value = await new DistributedAtomicLong(reader, "/chaos/counter").GetAsync();
        Assert.True(acknowledged > 0, $"expected some adds to be acknowledged under faults (seed {seed})");
        Assert.True(value >= acknowledged && value <= acknowledged + unknown,
            $"expected the counter between the {acknowledged} acknowledged adds and those plus {unknown} of unknown outcome, it is {value} (seed {seed})");
        // The counter's reads and conditional writes, as its sessions recorded them, are linearizable too.
        var history = chaos.History.Check();
        Assert.True(history.Passed && history.PathsChecked >= 1, $"seed {seed}: {history}");
    }

    [Fact]
    public async Task A_member_whose_snapshot_changed_silently_on_disk_is_named_by_the_convergence_check()
    {
        // Silent disk corruption with a valid checksum (or a bug that applies a txn differently on one member): the
        // member restarts at the leader's zxid, DIFF has nothing to send, and only comparing the trees shows it.
        var seed = RecipeTestKit.Next(output);
        var ensembleOptions = new InMemoryEnsembleOptions { Durable = true };
        ensembleOptions = ensembleOptions with { Peer = ensembleOptions.Peer with { SnapCount = 20 } };
        await using var chaos = await FaultyEnsemble.StartAsync(seed, new FaultyEnsembleOptions { Ensemble = ensembleOptions });
        await using (var zk = await chaos.ConnectAsync(chaos.Ensemble.Leader))
        {
            for (var i = 0; i < 60; i++)
                await zk.CreateAsync($"/n{i}", data: [1]);
        }

        Assert.Null(await chaos.CheckConvergedAsync());
        var victim = chaos.Ensemble.Followers[0];
        var dir = chaos.Ensemble[victim].Options.DataDir!;
        await EnsembleKit.WaitAsync(() => SnapshotFile.List(dir).Count > 0, () => $"expected server {victim} to snapshot with snapCount 20 after 60 writes");
        await chaos.Ensemble.CrashAsync(victim);

        var (zxid, path) = SnapshotFile.List(dir)[0];
        var state = SnapshotFile.Read(path);
        Assert.NotNull(state.Find("/n0"));
        var changed = TxnApplier.Apply(state, new Txn(new Zxid(zxid.Value + 1), default, 0, new SetDataTxn("/n0", [9], 0)), triggers: null).With(zxid: zxid);
        File.Delete(path);
        SnapshotFile.Write(dir, changed);
        await chaos.Ensemble.RestartAsync(victim);
        await EnsembleKit.WaitAsync(() => chaos.Ensemble.Running.All(p => p.IsServing), () => $"expected every member to serve after server {victim} restarted");

        var difference = await chaos.CheckConvergedAsync(TimeSpan.FromSeconds(2));
        output.WriteLine(difference ?? "no difference");
        Assert.NotNull(difference);
        Assert.Contains($"seed {seed}", difference, StringComparison.Ordinal);
        Assert.Contains($"server {victim}", difference, StringComparison.Ordinal);
        Assert.Contains("/n0", difference, StringComparison.Ordinal);
    }
}
