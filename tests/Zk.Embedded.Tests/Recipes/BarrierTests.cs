using Xunit.Abstractions;
using Zk.Embedded.Recipes;
using Zk.Embedded.Tests.Support;

namespace Zk.Embedded.Tests.Recipes;

/// <summary>The barrier and the double barrier: waiters held until released, members entering and leaving together.</summary>
public sealed class BarrierTests(ITestOutputHelper output) : RecipePeerTest
{
    [Fact]
    public async Task Waiters_are_held_while_the_barrier_is_set_and_all_go_when_it_is_removed()
    {
        await using var owner = await Peer.ConnectAsync();
        await using var sessions = await ConnectManyAsync(6);
        var barrier = new DistributedBarrier(owner, "/barriers/start");
        await barrier.SetAsync();
        await barrier.SetAsync();
        var waiters = sessions.Select(zk => new DistributedBarrier(zk, "/barriers/start").WaitAsync().AsTask()).ToArray();
        await Eventually.TrueAsync(() => Peer.Peer.Core.Watches.Snapshot().Any(w => w.Path == "/barriers/start" && w.Sessions.Length == 6), "six waiters watching the barrier");
        Assert.DoesNotContain(waiters, w => w.IsCompleted);

        await barrier.RemoveAsync();
        await Task.WhenAll(waiters).WaitAsync(TimeSpan.FromSeconds(10));
        await new DistributedBarrier(sessions[0], "/barriers/start").WaitAsync(); // not set: returns at once
        using var cancel = new CancellationTokenSource();
        await barrier.SetAsync();
        var canceled = new DistributedBarrier(sessions[1], "/barriers/start").WaitAsync(cancel.Token).AsTask();
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => canceled);
    }

    [Fact]
    public async Task No_member_passes_enter_before_all_have_entered_nor_leave_before_all_have_left()
    {
        var seed = RecipeTestKit.Next(output);
        const int members = 6;
        await using var sessions = await ConnectManyAsync(members);
        int entered = 0, left = 0;
        await Task.WhenAll(sessions.Select((zk, i) => Task.Run(async () =>
        {
            var random = new Random(seed + i);
            await RecipeTestKit.YieldAsync(random, 20);
            await using var barrier = new DoubleBarrier(zk, "/double", members);
            Interlocked.Increment(ref entered);
            await barrier.EnterAsync();
            Assert.True(Volatile.Read(ref entered) == members, $"a member passed enter with {Volatile.Read(ref entered)} of {members} entered");
            await RecipeTestKit.YieldAsync(random, 20);
            Interlocked.Increment(ref left);
            await barrier.LeaveAsync();
            Assert.True(Volatile.Read(ref left) == members, $"a member passed leave with {Volatile.Read(ref left)} of {members} leaving");
        })).Select(t => t.WaitAsync(TimeSpan.FromSeconds(30))));

        var remaining = await RemainingAsync(sessions[0]);
        Assert.Empty(remaining);
    }

    [Fact]
    public async Task A_member_that_gives_up_entering_leaves_no_node()
    {
        await using var zk = await Peer.ConnectAsync();
        await using var barrier = new DoubleBarrier(zk, "/double", 2);
        using var cancel = new CancellationTokenSource();
        var entering = barrier.EnterAsync(cancel.Token).AsTask();
        await RecipeTestKit.WaitForChildrenAsync(zk, "/double", 1);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => entering);
        Assert.Empty(await zk.GetEphemeralsAsync());
    }

    private static async Task<IReadOnlyList<string>> RemainingAsync(Api.IZooKeeper zk)
    {
        try
        {
            return await zk.GetChildrenAsync("/double");
        }
        catch (Api.ZkException e) when (e.Code == Api.ZkErrorCode.NoNode)
        {
            return []; // The container went with its last child.
        }
    }
}
