using System.Buffers.Binary;
using Xunit.Abstractions;
using Zk.Embedded.Api;
using Zk.Embedded.Recipes;
using Zk.Embedded.Tests.Support;

namespace Zk.Embedded.Tests.Recipes;

/// <summary>The shared count and the distributed atomic long: Curator's byte layout, compare-and-set, no lost update under contention.</summary>
public sealed class CounterTests(ITestOutputHelper output) : RecipePeerTest
{
    [Fact]
    public async Task Twelve_sessions_adding_at_once_lose_no_increment_and_each_sees_a_distinct_result()
    {
        var seed = RecipeTestKit.Next(output);
        await using var sessions = await ConnectManyAsync(12);
        var results = new System.Collections.Concurrent.ConcurrentBag<long>();
        await Task.WhenAll(sessions.Select((zk, i) => Task.Run(async () =>
        {
            var random = new Random(seed + i);
            var counter = new DistributedAtomicLong(zk, "/counters/hits");
            var count = new SharedCount(zk, "/counters/count");
            for (var round = 0; round < 10; round++)
            {
                results.Add(await counter.IncrementAsync());
                await count.AddAsync(2);
                await RecipeTestKit.YieldAsync(random, 3);
            }
        })));

        Assert.Equal(120, await new DistributedAtomicLong(sessions[0], "/counters/hits").GetAsync());
        Assert.Equal(Enumerable.Range(1, 120).Select(i => (long)i), results.Order());
        Assert.Equal(240, (await new SharedCount(sessions[0], "/counters/count").GetAsync()).Value);
    }

    [Fact]
    public async Task The_atomic_long_is_eight_big_endian_bytes_and_compare_and_set_needs_the_expected_value()
    {
        await using var zk = await Peer.ConnectAsync();
        var counter = new DistributedAtomicLong(zk, "/n");
        Assert.Equal(0, await counter.GetAsync());
        Assert.False(await counter.CompareAndSetAsync(0, 5), "Curator's compareAndSet fails on a missing node");
        Assert.True(await counter.InitializeAsync(-2));
        Assert.False(await counter.InitializeAsync(7), "initialize leaves an existing node alone");
        Assert.Equal(-2, await counter.GetAsync());

        Assert.False(await counter.CompareAndSetAsync(3, 9));
        Assert.True(await counter.CompareAndSetAsync(-2, long.MaxValue));
        Assert.Equal(long.MinValue, await counter.AddAsync(1));
        var raw = await zk.GetDataAsync("/n");
        Assert.Equal(long.MinValue, BinaryPrimitives.ReadInt64BigEndian(raw.Data.Span));

        await zk.SetDataAsync("/n", [1, 2, 3]);
        var bad = await Assert.ThrowsAsync<InvalidDataException>(async () => await counter.GetAsync());
        Assert.Contains("/n holds 3 bytes", bad.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_shared_count_set_fails_when_another_writer_came_between_read_and_write()
    {
        await using var a = await Peer.ConnectAsync();
        await using var b = await Peer.ConnectAsync();
        var mine = new SharedCount(a, "/count");
        var theirs = new SharedCount(b, "/count");
        var absent = await mine.GetAsync();
        Assert.Equal(new VersionedCount(0, -1), absent);
        Assert.True(await mine.TrySetAsync(absent, 10));
        Assert.False(await theirs.TrySetAsync(absent, 11), "a create over an existing node must fail");

        var read = await mine.GetAsync();
        Assert.True(await theirs.TrySetAsync(read, 20));
        Assert.False(await mine.TrySetAsync(read, 30), "the version read is stale");
        Assert.Equal(new VersionedCount(20, 1), await mine.GetAsync());
        Assert.Equal([0, 0, 0, 20], (await a.GetDataAsync("/count")).Data.ToArray());
    }

    [Fact]
    public async Task An_add_whose_reply_is_lost_is_applied_once()
    {
        await using var real = await Peer.ConnectAsync();
        var faulty = FaultySession.Wrap(real, multiFaults: 1);
        var counter = new DistributedAtomicLong(real, "/once");
        Assert.True(await counter.InitializeAsync(40));

        Assert.Equal(41, await new DistributedAtomicLong(faulty, "/once").IncrementAsync());

        Assert.Equal(1, FaultySession.Of(faulty).FaultedMulti);
        Assert.Equal(41, await counter.GetAsync());
    }

    [Fact]
    public async Task An_add_lost_on_the_way_is_applied_once_even_when_another_writer_wrote_the_same_value_meanwhile()
    {
        await using var real = await Peer.ConnectAsync();
        await using var other = await Peer.ConnectAsync();
        var counter = new DistributedAtomicLong(real, "/same");
        Assert.True(await counter.InitializeAsync(40));
        // Both read 40 and both write 41: only the marker tells the lost write from the other one.
        var losing = FaultySession.LosingNextMulti(real, async () => Assert.Equal(41, await new DistributedAtomicLong(other, "/same").IncrementAsync()));

        Assert.Equal(42, await new DistributedAtomicLong(losing, "/same").IncrementAsync());

        Assert.Equal(1, FaultySession.Of(losing).FaultedMulti);
        Assert.Equal(42, await counter.GetAsync());
    }
}
