using System.Collections.Concurrent;
using System.Text;
using Xunit.Abstractions;
using Zk.Embedded.Api;
using Zk.Embedded.Recipes;
using Zk.Embedded.Tests.Ensemble;
using Zk.Embedded.Tests.Support;

namespace Zk.Embedded.Tests.Recipes;

/// <summary>
/// Queue, node and tree caches and service discovery on a three-member in-memory ensemble: waiting consumers and
/// caches on followers go on across a leader failover, and caches and discovery views converge after a failover and
/// after a session expires (its ephemerals and instances disappear from every view).
/// </summary>
// Alone: a three-voter ensemble with a short tick loses its quorum when parallel tests starve a follower.
[Collection(RunsAlone.Name)]
public sealed class EnsembleCacheFailureTests(ITestOutputHelper output) : EnsembleRecipeTest(output)
{
    private const int Items = 10;

    [Fact]
    public async Task Consumers_waiting_on_followers_take_every_item_once_after_a_leader_failover()
    {
        var (a, b, _) = Members();
        await using var consumerA = await ConnectAsync(a);
        await using var consumerB = await ConnectAsync(b);
        await consumerA.CreateAsync("/jobs");
        var taken = new ConcurrentBag<string>();
        using var done = new CancellationTokenSource();
        var consumers = new[] { consumerA, consumerB }.Select(zk => Task.Run(() => ConsumeAsync(new DistributedQueue(zk, "/jobs"), taken, done))).ToArray();
        await Eventually.TrueAsync(() => Ensemble[a].Core.Watches.Count >= 1 && Ensemble[b].Core.Watches.Count >= 1, "both consumers to watch /jobs", Deadline);

        var leader = await FailOverAsync();

        await using var producer = await ConnectAsync(leader);
        var queue = new DistributedQueue(producer, "/jobs");
        for (var i = 0; i < Items; i++)
        {
            await queue.PutAsync(Encoding.UTF8.GetBytes($"job{i}"));
        }

        await Task.WhenAll(consumers).WaitAsync(Deadline);
        Assert.Equal(Enumerable.Range(0, Items).Select(i => $"job{i}").Order(StringComparer.Ordinal), taken.Order(StringComparer.Ordinal));
        Assert.Empty(await ChildrenEverywhereAsync("/jobs"));
    }

    [Fact]
    public async Task Node_and_tree_caches_on_a_follower_converge_after_a_leader_failover_and_after_a_writers_session_expires()
    {
        var (a, b, _) = Members();
        await using var reader = await ConnectAsync(a);
        await using var writer = await ConnectAsync(b);
        var ephemeralOwner = await ConnectAsync(b);
        await writer.CreateAsync("/cfg", data: "v1"u8.ToArray());
        await writer.CreateAsync("/cfg/db", data: "host=a"u8.ToArray());
        await ephemeralOwner.CreateAsync("/cfg/owner", CreateMode.Ephemeral, "me"u8.ToArray());
        await using var node = await NodeCache.StartAsync(reader, "/cfg");
        await using var tree = new TreeCache(reader, "/cfg");
        await tree.StartAsync();
        Assert.Equal(["/cfg", "/cfg/db", "/cfg/owner"], tree.Nodes.Keys.Order(StringComparer.Ordinal));

        await FailOverAsync();
        await EnsembleKit.RetryOnConnectionLossAsync(async () => await writer.SetDataAsync("/cfg", "v2"u8.ToArray(), -1));
        await EnsembleKit.RetryOnConnectionLossAsync(async () => await writer.SetDataAsync("/cfg/db", "host=b"u8.ToArray(), -1));
        await EnsembleKit.RetryOnConnectionLossAsync(async () => await writer.CreateAsync("/cfg/added", data: "new"u8.ToArray()));

        await Eventually.TrueAsync(() => Text(node.Current) == "v2", "the node cache to hold v2 after the failover", Deadline);
        await Eventually.TrueAsync(() => Text(tree.Nodes.GetValueOrDefault("/cfg/db")) == "host=b" && Text(tree.Nodes.GetValueOrDefault("/cfg/added")) == "new",
            "the tree cache to hold the writes made after the failover", Deadline);

        await KillSessionAsync(ephemeralOwner);

        await Eventually.TrueAsync(() => !tree.Nodes.ContainsKey("/cfg/owner"), "the expired session's ephemeral to leave the tree cache", Deadline);
        Assert.Equal(["/cfg", "/cfg/added", "/cfg/db"], tree.Nodes.Keys.Order(StringComparer.Ordinal));
        await ephemeralOwner.DisposeAsync();
    }

    [Fact]
    public async Task Discovery_views_on_two_members_drop_an_expired_instance_and_a_crashed_members_instance_and_see_new_ones()
    {
        var (a, b, leader) = Members();
        await using var clientA = await ConnectAsync(a);
        await using var clientB = await ConnectAsync(b);
        await using var viewA = await ServiceCache.StartAsync(clientA, "/services", "api");
        await using var viewB = await ServiceCache.StartAsync(clientB, "/services", "api");
        var onA = await ConnectAsync(a);
        await using var onB = await ConnectAsync(b);
        var onLeader = await ConnectAsync(leader);
        foreach (var (zk, id) in new[] { (onA, "ia"), (onB, "ib"), (onLeader, "il") })
        {
            await zk.RegisterAsync("/services", new ServiceInstance("api", id, "10.0.0.1", 80));
        }

        await ViewsShowAsync(["ia", "ib", "il"], viewA, viewB);

        await KillSessionAsync(onA);
        await ViewsShowAsync(["ib", "il"], viewA, viewB);

        await Ensemble.CrashAsync(leader);
        await SettledAsync();
        await ViewsShowAsync(["ib"], viewA, viewB);
        await EnsembleKit.RetryOnConnectionLossAsync(async () => await onB.RegisterAsync("/services", new ServiceInstance("api", "inew", "10.0.0.2", 80)));
        await ViewsShowAsync(["ib", "inew"], viewA, viewB);
        Assert.Equal(["ib", "inew"], Enumerable.Range(0, 2).Select(_ => viewA.PickRoundRobin()!.Id).Order(StringComparer.Ordinal));
        await onA.DisposeAsync();
        await onLeader.DisposeAsync();
    }

    private static async Task ConsumeAsync(DistributedQueue queue, ConcurrentBag<string> taken, CancellationTokenSource done)
    {
        while (true)
        {
            try
            {
                var item = await queue.TakeAsync(done.Token);
                taken.Add(Encoding.UTF8.GetString(item));
                if (taken.Count == Items)
                {
                    await done.CancelAsync();
                }
            }
            catch (OperationCanceledException) when (done.IsCancellationRequested)
            {
                return;
            }
            catch (ZkException e) when (e.Code == ZkErrorCode.ConnectionLoss)
            {
                // The member had no leader for a moment: wait again, as an application would.
            }
        }
    }

    private static async Task ViewsShowAsync(string[] ids, params ServiceCache[] views)
    {
        string Seen(ServiceCache view) => string.Join(",", view.Instances.Select(i => i.Id).Order(StringComparer.Ordinal));
        var expected = string.Join(",", ids);
        await Eventually.TrueAsync(() => views.All(v => Seen(v) == expected),
            $"every view to show [{expected}]", Deadline);
    }

    private static string? Text(DataResult? data) => data is { } d ? Encoding.UTF8.GetString(d.Data.Span) : null;
}
