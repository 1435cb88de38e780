using System.Collections.Concurrent;
using System.Text;
using Xunit.Abstractions;
using Zk.Embedded.Api;
using Zk.Embedded.Recipes;
using Zk.Embedded.Tests.Ensemble;
using Zk.Embedded.Tests.Support;

namespace Zk.Embedded.Tests.Recipes;

/// <summary>
/// Barriers, counters, group membership and the priority queue on a three-member in-memory ensemble, with sessions
/// on the followers while the leader fails over: barriers hold and release everyone, concurrent adds are applied
/// exactly once, group views drop a killed session's member and a crashed member's, and priority-queue consumers take
/// every item once, each in priority order.
/// </summary>
// Alone: a three-voter ensemble with a short tick loses its quorum when parallel tests starve a follower.
[Collection(RunsAlone.Name)]
public sealed class EnsembleCoordinationFailureTests(ITestOutputHelper output) : EnsembleRecipeTest(output)
{
    [Fact]
    public async Task A_double_barrier_across_two_members_holds_enter_and_leave_for_everyone_across_a_leader_failover()
    {
        const int members = 6;
        var (a, b, _) = Members();
        var sessions = new List<IZooKeeper>();
        for (var i = 0; i < members; i++)
            sessions.Add(await ConnectAsync(i % 2 == 0 ? a : b));
        int entering = 0, leaving = 0, entered = 0;
        using var failedOver = new SemaphoreSlim(0);
        var barriers = sessions.Select((zk, i) => new DoubleBarrier(zk, "/dbarrier", members)).ToArray();

        var runs = barriers.Select(barrier => Task.Run(async () =>
        {
            Interlocked.Increment(ref entering);
            await barrier.EnterAsync();
            Assert.True(Volatile.Read(ref entering) == members, $"a member passed enter when {entering} of {members} had entered");
            Interlocked.Increment(ref entered);
            await failedOver.WaitAsync(Deadline);
            Interlocked.Increment(ref leaving);
            await barrier.LeaveAsync();
            Assert.True(Volatile.Read(ref leaving) == members, $"a member passed leave when {leaving} of {members} had started leaving");
        })).ToArray();
        await Eventually.TrueAsync(() => Volatile.Read(ref entered) == members, "every member through enter", Deadline);

        await FailOverAsync();
        failedOver.Release(members);

        await Task.WhenAll(runs).WaitAsync(Deadline);
        Assert.Empty(await ChildrenEverywhereAsync("/dbarrier"));
        foreach (var zk in sessions)
            await zk.DisposeAsync();
    }

    [Fact]
    public async Task Waiters_on_both_followers_pass_a_barrier_removed_after_a_leader_failover()
    {
        var (a, b, _) = Members();
        await using var owner = await ConnectAsync(a);
        var waiters = new List<IZooKeeper>();
        for (var i = 0; i < 4; i++)
            waiters.Add(await ConnectAsync(i % 2 == 0 ? a : b));
        await new DistributedBarrier(owner, "/gate").SetAsync();
        // A follower may not have applied the barrier yet, and a waiter that reads it absent passes at once (the
        // recipe does not promise otherwise): seen once in CI, two waiters on the lagging follower had passed before
        // the failover. Each waiter's session syncs first, so it sees the barrier set.
        foreach (var zk in waiters)
            await zk.SyncAsync("/gate");
        var waiting = waiters.Select(zk => new DistributedBarrier(zk, "/gate").WaitAsync().AsTask()).ToArray();
        Assert.DoesNotContain(waiting, w => w.IsCompleted);
        await Eventually.TrueAsync(() => Ensemble[a].Core.Watches.Count >= 2 && Ensemble[b].Core.Watches.Count >= 2, "the waiters watching /gate on both followers", Deadline);

        await FailOverAsync();
        Assert.DoesNotContain(waiting, w => w.IsCompleted);
        await new DistributedBarrier(owner, "/gate").RemoveAsync();

        await Task.WhenAll(waiting).WaitAsync(Deadline);
        foreach (var zk in waiters)
            await zk.DisposeAsync();
    }

    [Fact]
    public async Task Counters_added_to_from_both_followers_across_a_leader_failover_lose_no_add_and_apply_none_twice()
    {
        const int adders = 4, adds = 15;
        var (a, b, _) = Members();
        var sessions = new List<IZooKeeper>();
        for (var i = 0; i < adders; i++)
            sessions.Add(await ConnectAsync(i % 2 == 0 ? a : b));
        var returned = new ConcurrentBag<(long AtomicLong, int Count)>();
        var done = 0;

        var runs = sessions.Select(zk => Task.Run(async () =>
        {
            var atomic = new DistributedAtomicLong(zk, "/counters/long");
            var count = new SharedCount(zk, "/counters/int");
            for (var i = 0; i < adds; i++)
            {
                returned.Add((await atomic.IncrementAsync(), await count.AddAsync(1)));
                Interlocked.Increment(ref done);
            }
        })).ToArray();
        await Eventually.TrueAsync(() => Volatile.Read(ref done) >= adders * adds / 4, "a quarter of the adds before the failover", Deadline);
        await FailOverAsync();
        await Task.WhenAll(runs).WaitAsync(Deadline);

        // Every add returned, so each was applied once: the totals are exact and every returned value is distinct.
        Assert.Equal(adders * adds, await new DistributedAtomicLong(sessions[0], "/counters/long").GetAsync());
        Assert.Equal(adders * adds, (await new SharedCount(sessions[1], "/counters/int").GetAsync()).Value);
        Assert.Equal(Enumerable.Range(1, adders * adds).Select(i => (long)i), returned.Select(r => r.AtomicLong).Order());
        Assert.Equal(Enumerable.Range(1, adders * adds), returned.Select(r => r.Count).Order());
        foreach (var zk in sessions)
            await zk.DisposeAsync();
    }

    [Fact]
    public async Task Group_views_on_two_followers_drop_a_killed_sessions_member_and_a_crashed_members_member()
    {
        var (a, b, leader) = Members();
        await using var watcherA = await ConnectAsync(a);
        await using var watcherB = await ConnectAsync(b);
        var killed = await ConnectAsync(a);
        var onLeader = await ConnectAsync(leader);
        await using var viewA = await GroupMember.JoinAsync(watcherA, "/group", "watcher-a");
        await using var viewB = await GroupMember.JoinAsync(watcherB, "/group", "watcher-b");
        await using var killedMember = await GroupMember.JoinAsync(killed, "/group", "killed");
        await using var leaderMember = await GroupMember.JoinAsync(onLeader, "/group", "on-leader");
        string[] all = ["killed", "on-leader", "watcher-a", "watcher-b"];
        await SameViewAsync(viewA, viewB, all);

        await KillSessionAsync(killed);
        await SameViewAsync(viewA, viewB, ["on-leader", "watcher-a", "watcher-b"]);

        await CrashMemberOfAsync(leader, onLeader); // a failover, then the crashed member's session expires
        await SameViewAsync(viewA, viewB, ["watcher-a", "watcher-b"]);
        await using var late = await ConnectAsync(Ensemble.Leader!.Value);
        await using var lateMember = await GroupMember.JoinAsync(late, "/group", "late", Encoding.UTF8.GetBytes("joined after"));
        await SameViewAsync(viewA, viewB, ["late", "watcher-a", "watcher-b"]);
        Assert.Equal("joined after", Encoding.UTF8.GetString(viewA.Members["late"].Span));
        await killed.DisposeAsync();
        await onLeader.DisposeAsync();
    }

    [Fact]
    public async Task Priority_queue_consumers_on_both_followers_take_every_item_once_each_in_priority_order_after_a_failover()
    {
        var seed = RecipeTestKit.Next(Output);
        var random = new Random(seed);
        const int items = 24;
        var (a, b, leader) = Members();
        await using (var producer = await ConnectAsync(leader))
        {
            var queue = new DistributedPriorityQueue(producer, "/prio-jobs");
            for (var i = 0; i < items; i++)
            {
                var priority = random.Next(-5, 6);
                await queue.PutAsync(Encoding.UTF8.GetBytes($"{priority}:{i}"), priority);
            }
        }

        await FailOverAsync();
        await using var consumerA = await ConnectAsync(a);
        await using var consumerB = await ConnectAsync(b);
        var takes = await Task.WhenAll(new[] { consumerA, consumerB }.Select(zk => Task.Run(async () =>
        {
            var queue = new DistributedPriorityQueue(zk, "/prio-jobs");
            var taken = new List<string>();
            while (await queue.TryTakeAsync() is { } item)
                taken.Add(Encoding.UTF8.GetString(item));
            return taken;
        }))).WaitAsync(Deadline);

        foreach (var taken in takes)
        {
            var priorities = taken.Select(t => int.Parse(t.Split(':')[0], System.Globalization.CultureInfo.InvariantCulture)).ToList();
            Assert.True(priorities.SequenceEqual(priorities.Order()), $"expected one consumer's items in priority order (seed {seed}): {string.Join(", ", taken)}");
        }

        Assert.Equal(Enumerable.Range(0, items), takes.SelectMany(t => t).Select(t => int.Parse(t.Split(':')[1], System.Globalization.CultureInfo.InvariantCulture)).Order());
        Assert.Empty(await ChildrenEverywhereAsync("/prio-jobs"));
    }

    private static async Task SameViewAsync(GroupMember viewA, GroupMember viewB, string[] expected)
    {
        string View(GroupMember view) => string.Join(", ", view.Members.Keys.Order(StringComparer.Ordinal));
        await EnsembleKit.WaitAsync(() => View(viewA) == string.Join(", ", expected) && View(viewB) == string.Join(", ", expected),
            () => $"expected both views to hold [{string.Join(", ", expected)}]; they hold [{View(viewA)}] and [{View(viewB)}]");
    }
}
