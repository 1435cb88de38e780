using Xunit.Abstractions;
using Zk.Embedded.Recipes;
using Zk.Embedded.Tests.Support;

namespace Zk.Embedded.Tests.Recipes;

/// <summary>The counting semaphore: Curator's leases/locks layout, at most N holders, giving up, a lost holder's lease freed.</summary>
public sealed class SemaphoreTests(ITestOutputHelper output) : RecipePeerTest
{
    [Fact]
    public async Task Leases_are_named_as_Curator_names_them_and_the_third_of_two_waits_for_a_release()
    {
        await using var a = await Peer.ConnectAsync();
        await using var b = await Peer.ConnectAsync();
        await using var c = await Peer.ConnectAsync();
        var first = await a.AcquireSemaphoreAsync("/sem", 2);
        await using var second = await b.AcquireSemaphoreAsync("/sem", 2);
        Assert.StartsWith("/sem/leases/", first.NodePath, StringComparison.Ordinal);
        Assert.Matches(CuratorNames.Node("lease-"), ZkPaths.NameOf(first.NodePath));

        var third = c.AcquireSemaphoreAsync("/sem", 2).AsTask();
        await RecipeTestKit.WaitForChildrenAsync(a, "/sem/leases", 3);
        Assert.Single(await a.GetChildrenAsync("/sem/locks")); // the waiter holds Curator's mutex while it waits
        Assert.False(third.IsCompleted, "a third lease must wait while two are held");

        await first.ReleaseAsync();
        await using var taken = await third.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Empty(await a.GetChildrenAsync("/sem/locks"));
        Assert.Equal(2, (await a.GetChildrenAsync("/sem/leases")).Count);
    }

    [Fact]
    public async Task A_waiter_that_times_out_leaves_neither_a_lease_nor_a_lock_node()
    {
        await using var holder = await Peer.ConnectAsync();
        await using var waiter = await Peer.ConnectAsync();
        await using var held = await holder.AcquireSemaphoreAsync("/sem", 1);

        Assert.Null(await waiter.TryAcquireSemaphoreAsync("/sem", 1, TimeSpan.FromMilliseconds(50)));

        Assert.Equal([ZkPaths.NameOf(held.NodePath)], await holder.GetChildrenAsync("/sem/leases"));
        Assert.Empty(await waiter.GetEphemeralsAsync());
    }

    [Fact]
    public async Task When_a_holders_session_expires_its_lease_goes_to_the_waiter()
    {
        await using var holder = await Peer.ConnectAsync();
        await using var waiter = await Peer.ConnectAsync();
        var held = await holder.AcquireSemaphoreAsync("/sem", 1);
        var next = waiter.AcquireSemaphoreAsync("/sem", 1).AsTask();
        await RecipeTestKit.WaitForChildrenAsync(waiter, "/sem/leases", 2);

        await Peer.ExpireAsync(holder);

        await using var taken = await next.WaitAsync(TimeSpan.FromSeconds(10));
        await Eventually.TrueAsync(() => held.State == HoldState.Lost, "the expired holder's lease to be lost");
    }

    [Fact]
    public async Task Twelve_sessions_contending_for_three_leases_never_hold_more_than_three()
    {
        var seed = RecipeTestKit.Next(output);
        var gate = new object();
        int inside = 0, most = 0, entries = 0;
        await using var sessions = await ConnectManyAsync(12);
        await Task.WhenAll(sessions.Select((zk, i) => Task.Run(async () =>
        {
            var random = new Random(seed + i);
            for (var round = 0; round < 4; round++)
            {
                await using var lease = await zk.AcquireSemaphoreAsync("/contended", 3);
                lock (gate)
                {
                    inside++;
                    entries++;
                    most = Math.Max(most, inside);
                    Assert.True(inside <= 3, $"{inside} holders inside a semaphore of 3");
                }

                await RecipeTestKit.YieldAsync(random, 4);
                lock (gate)
                {
                    inside--;
                }
            }
        })));

        Assert.Equal(48, entries);
        Assert.InRange(most, 1, 3);
        Assert.Empty(await sessions[0].GetChildrenAsync("/contended/leases"));
    }
}
