using System.Collections.Concurrent;
using System.Text;
using Xunit.Abstractions;
using Zk.Embedded.Api;
using Zk.Embedded.Recipes;
using Zk.Embedded.Tests.Interop;
using Zk.Embedded.Tests.Support;

namespace Zk.Embedded.Tests.Recipes;

/// <summary>The FIFO and priority queues: Curator's node names, order, each item taken once under contention, a waiting take.</summary>
public sealed class QueueTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Items_put_by_many_sessions_are_each_taken_once_in_put_order_per_producer()
    {
        await using var peer = await TestPeer.StartAsync();
        var seed = RecipeTestKit.Next(output);
        await using var sessions = await SessionGroup.ConnectAsync(peer, 8);
        var taken = new ConcurrentQueue<(int Consumer, string Item)>();
        var producers = sessions.Take(4).Select((zk, p) => Task.Run(async () =>
        {
            var queue = new DistributedQueue(zk, "/queue");
            var random = new Random(seed + p);
            for (var i = 0; i < 10; i++)
            {
                await queue.PutAsync(Encoding.UTF8.GetBytes($"{p}:{i:D2}"));
                await RecipeTestKit.YieldAsync(random, 3);
            }
        }));
        var consumers = sessions.Skip(4).Select((zk, c) => Task.Run(async () =>
        {
            var queue = new DistributedQueue(zk, "/queue");
            for (var i = 0; i < 10; i++)
            {
                taken.Enqueue((c, Encoding.UTF8.GetString(await queue.TakeAsync())));
            }
        }));
        await Task.WhenAll(producers.Concat(consumers)).WaitAsync(TimeSpan.FromSeconds(30));

        var items = taken.Select(t => t.Item).ToList();
        Assert.Equal(40, items.Distinct().Count());
        foreach (var consumer in taken.GroupBy(t => t.Consumer))
        {
            foreach (var producer in consumer.GroupBy(t => t.Item[0]))
            {
                var seen = producer.Select(t => t.Item).ToList();
                Assert.Equal(seen.Order(StringComparer.Ordinal), seen); // one consumer sees one producer's items in put order
            }
        }

        Assert.Empty(await sessions[0].GetChildrenAsync("/queue"));
    }

    [Fact]
    public async Task Nodes_are_named_as_Curator_names_them_and_the_priority_queue_takes_lower_numbers_first()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        var fifo = new DistributedQueue(zk, "/fifo");
        Assert.Null(await fifo.TryTakeAsync());
        Assert.Matches("^/fifo/queue-[0-9]{10}$", await fifo.PutAsync("a"u8.ToArray()));

        var queue = new DistributedPriorityQueue(zk, "/prio");
        Assert.Equal("/prio/queue-1000000050000000000", await queue.PutAsync("five"u8.ToArray(), 5));
        await queue.PutAsync("minus-one"u8.ToArray(), -1);
        await queue.PutAsync("minus-two"u8.ToArray(), -2);
        await queue.PutAsync("five-again"u8.ToArray(), 5);
        await queue.PutAsync("zero"u8.ToArray(), 0);
        var order = new List<string>();
        while (await queue.TryTakeAsync() is { } item)
        {
            order.Add(Encoding.UTF8.GetString(item));
        }

        Assert.Equal(["minus-two", "minus-one", "zero", "five", "five-again"], order);
        Assert.Equal("0FFFFFFFF", DistributedPriorityQueue.PriorityKey(-1));
    }

    [Fact]
    public async Task A_waiting_take_wakes_for_an_item_put_later_in_process()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var consumer = await peer.ConnectAsync();
        await using var producer = await peer.ConnectAsync();
        await WaitingTakeAsync(consumer, producer);
    }

    [SkippableFact]
    public async Task A_wire_client_queue_works_on_Apache_ZooKeeper()
    {
        await using var server = await ApacheZooKeeper.StartAsync(TimeSpan.FromSeconds(60));
        await using var sessions = await SessionGroup.ConnectAsync(server, 2);
        var (consumer, producer) = (sessions[0], sessions[1]);
        await WaitingTakeAsync(consumer, producer);
    }

    private static async Task WaitingTakeAsync(IZooKeeper consumer, IZooKeeper producer)
    {
        var queue = new DistributedQueue(consumer, "/jobs");
        var take = queue.TakeAsync().AsTask();
        await Eventually.TrueAsync(() => take.IsCompleted || consumer.State == SessionState.Connected, "the consumer connected");
        var prio = new DistributedPriorityQueue(producer, "/jobs-by-priority");
        await prio.PutAsync("late"u8.ToArray(), 9);
        await prio.PutAsync("urgent"u8.ToArray(), 1);
        Assert.Equal("urgent", Encoding.UTF8.GetString(await new DistributedPriorityQueue(consumer, "/jobs-by-priority").TakeAsync()));
        Assert.False(take.IsCompleted, "a take on an empty queue waits");

        await new DistributedQueue(producer, "/jobs").PutAsync("job-1"u8.ToArray());
        Assert.Equal("job-1", Encoding.UTF8.GetString(await take.WaitAsync(TimeSpan.FromSeconds(10))));
    }
}
