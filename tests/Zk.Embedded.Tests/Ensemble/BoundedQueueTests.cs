using Microsoft.Extensions.Logging.Abstractions;
using Zk.Embedded.Consensus;
using Zk.Embedded.Ensemble;
using Zk.Testing.Simulation;
using Zk.Transport.InMemory;

namespace Zk.Embedded.Tests.Ensemble;

/// <summary>
/// The driver's inbox and its storage worker's queue are bounded (issue 13 point f): a flood of peer messages at a
/// stalled loop waits in at most <see cref="ConsensusDriver.MaxQueuedEvents"/> inbox slots plus the transport's own
/// bounded queue (the rest is dropped, a loss the protocol repairs), and a stalled disk makes the loop wait rather
/// than queue requests without end; both drain once the stall ends.
/// </summary>
public sealed class BoundedQueueTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_flood_of_peer_messages_at_a_stalled_loop_stays_within_the_inbox_bound_and_is_dropped_beyond_it()
    {
        await using var network = new InMemoryNetwork(new InMemoryNetworkOptions { Seed = 1 });
        var config = new ConsensusConfig { MyId = 1, Voters = [1, 2, 3], InitLimit = 100, SyncLimit = 50 };
        var driver = new ConsensusDriver(config, network.Join(1), new ConsensusLog(), new NullState(), new SeededRandom(new Random(1)),
            TimeProvider.System, TimeSpan.FromMilliseconds(10), NullLogger.Instance);
        var flooder = network.Join(2);
        using var stall = new ManualResetEventSlim();
        try
        {
            Assert.True(driver.Run(() => stall.Wait(Deadline)), "expected the driver to take an action");
            var ping = MessageCodec.Encode(new Ping(default));
            const int flood = 20_000;
            for (var i = 0; i < flood; i++)
                flooder.Send(1, ping);

            await WaitAsync(() => driver.QueuedEvents == ConsensusDriver.MaxQueuedEvents,
                () => $"expected the inbox to fill to {ConsensusDriver.MaxQueuedEvents} events, it holds {driver.QueuedEvents}");
            var limits = new Zk.Embedded.Transport.TransportLimits();
            Assert.True(network.Overflowed >= flood - ConsensusDriver.MaxQueuedEvents - 2 * limits.QueueMessages,
                $"expected the transport to drop what neither its queues nor the inbox hold; it dropped {network.Overflowed} of {flood}");
            Assert.True(driver.QueuedEvents <= ConsensusDriver.MaxQueuedEvents, $"inbox holds {driver.QueuedEvents} events");

            stall.Set();
            await WaitAsync(() => driver.QueuedEvents == 0, () => $"expected the inbox to drain, it holds {driver.QueuedEvents}");
            using var cts = new CancellationTokenSource(Deadline);
            await driver.WaitUntilAsync(() => true, cts.Token); // the loop still steps
        }
        finally
        {
            stall.Set();
            await driver.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_stalled_disk_makes_the_loop_wait_at_the_storage_queue_bound_and_every_request_is_written_once_it_moves()
    {
        const int capacity = 8, total = 100;
        var store = new GatedStore();
        long durable = -1;
        var worker = new StorageWorker(store, seq => Interlocked.Exchange(ref durable, seq), _ => { }, capacity);
        var enqueued = 0;
        var producer = Task.Factory.StartNew(() =>
        {
            for (var i = 1; i <= total; i++)
            {
                worker.Enqueue(new WriteAcceptedEpoch(i, (uint)i));
                Volatile.Write(ref enqueued, i);
            }
        }, TaskCreationOptions.LongRunning);
        try
        {
            await WaitAsync(() => worker.Queued == capacity && store.Entered,
                () => $"expected the queue to fill to {capacity} behind the stalled write, it holds {worker.Queued}");
            // One request is in the stalled write, `capacity` wait; the producer is held at the next one.
            Assert.True(Volatile.Read(ref enqueued) <= capacity + 1, $"expected the producer held after {capacity + 1} requests, it queued {enqueued}");
            Assert.False(producer.IsCompleted, "expected the producer to wait while the queue is full");

            store.Gate.Set();
            await producer.WaitAsync(Deadline);
            await WaitAsync(() => Interlocked.Read(ref durable) == total, () => $"expected all {total} requests durable, got up to {durable}");
            Assert.Equal(total, store.Written);
        }
        finally
        {
            store.Gate.Set();
            await worker.DisposeAsync();
        }
    }

    private static async Task WaitAsync(Func<bool> condition, Func<string> failure)
    {
        using var cts = new CancellationTokenSource(Deadline);
        while (!condition())
        {
            if (cts.IsCancellationRequested)
                Assert.Fail(failure());
            await Task.Delay(5);
        }
    }

    private sealed class NullState : IReplicatedState
    {
        public ConsensusSnapshot Take() => new(default, Array.Empty<byte>());
        public void Restore(ConsensusSnapshot snapshot) { }
        public void Apply(ConsensusTxn txn) { }
    }

    /// <summary>A store whose writes wait for <see cref="Gate"/>: a disk that stopped answering.</summary>
    private sealed class GatedStore : IConsensusStore
    {
        private int _written;
        public ManualResetEventSlim Gate { get; } = new();
        public bool Entered { get; private set; }
        public int Written => Volatile.Read(ref _written);
        public ConsensusSnapshot? Snapshot => null;
        public PersistedState Load() => PersistedState.Empty;

        public void Write(PersistRequest request)
        {
            Entered = true;
            Gate.Wait();
            Interlocked.Increment(ref _written);
        }

        public void Sync() { }
        public void Dispose() => Gate.Dispose();
    }
}
