using Xunit.Abstractions;
using Zk.Embedded.Api;
using Zk.Embedded.Recipes;
using Zk.Embedded.Tests.Interop;

namespace Zk.Embedded.Tests.Recipes;

/// <summary>The recipes through the wire client against Apache ZooKeeper (Debian package): contention and failover.</summary>
public sealed class ApacheZooKeeperRecipeTests(ITestOutputHelper output)
{
    [SkippableFact]
    public async Task Wire_sessions_contending_on_Apache_ZooKeeper_hold_locks_and_semaphore_leases_within_their_limits()
    {
        await using var server = await ApacheZooKeeper.StartAsync(TimeSpan.FromSeconds(60));
        var seed = RecipeTestKit.Next(output);
        await using var sessions = await SessionGroup.ConnectAsync(server, 6);
        var register = new FencedRegister();
        var gate = new object();
        int inSemaphore = 0, writers = 0, readers = 0;
        await Task.WhenAll(sessions.Select((zk, i) => Task.Run(async () =>
        {
            var random = new Random(seed + i);
            for (var round = 0; round < 3; round++)
            {
                await using (var lease = await zk.AcquireLockAsync("/apache/lock"))
                {
                    register.Enter(lease.FencingToken);
                    await RecipeTestKit.YieldAsync(random, 3);
                    register.Leave();
                }

                var write = random.Next(3) == 0;
                await using (var rw = write ? await zk.AcquireWriteLockAsync("/apache/rw") : await zk.AcquireReadLockAsync("/apache/rw"))
                {
                    lock (gate)
                    {
                        Assert.True(writers == 0 && (!write || readers == 0), $"a {(write ? "writer" : "reader")} entered beside {writers} writer(s) and {readers} reader(s)");
                        _ = write ? writers++ : readers++;
                    }

                    await RecipeTestKit.YieldAsync(random, 3);
                    lock (gate)
                    {
                        _ = write ? writers-- : readers--;
                    }
                }

                await using var semaphore = await zk.AcquireSemaphoreAsync("/apache/sem", 2);
                Assert.True(Interlocked.Increment(ref inSemaphore) <= 2, "more than two leases of a semaphore of two");
                await RecipeTestKit.YieldAsync(random, 3);
                Interlocked.Decrement(ref inSemaphore);
            }
        })));

        Assert.Equal(18, register.Writes);
        Assert.Empty(await sessions[0].GetChildrenAsync("/apache/rw"));
        Assert.Empty(await sessions[0].GetChildrenAsync("/apache/sem/leases"));
    }

    [SkippableFact]
    public async Task On_Apache_ZooKeeper_the_standby_latch_takes_over_when_the_leaders_session_closes_and_counters_lose_no_add()
    {
        await using var server = await ApacheZooKeeper.StartAsync(TimeSpan.FromSeconds(60));
        await using var sessions = await SessionGroup.ConnectAsync(server, 4);
        await using var active = LeaderLatch.Start(sessions[0], "/apache/leader", "active");
        var first = await active.WaitForLeadershipAsync().WaitAsync(TimeSpan.FromSeconds(10));
        await using var standby = LeaderLatch.Start(sessions[1], "/apache/leader", "standby");
        var register = new FencedRegister();
        Assert.True(register.TryWrite(first.FencingToken));

        await sessions[0].CloseAsync();
        var second = await standby.WaitForLeadershipAsync().WaitAsync(TimeSpan.FromSeconds(20));
        Assert.True(register.TryWrite(second.FencingToken));
        Assert.False(register.TryWrite(first.FencingToken), "the register must refuse the deposed leader's token");

        await Task.WhenAll(sessions.Skip(1).Select(zk => Task.Run(async () =>
        {
            var counter = new DistributedAtomicLong(zk, "/apache/counter");
            for (var i = 0; i < 10; i++)
            {
                await counter.IncrementAsync();
            }
        })));
        Assert.Equal(30, await new DistributedAtomicLong(sessions[1], "/apache/counter").GetAsync());
    }
}
