using Microsoft.Extensions.Logging;
using Zk.Embedded.Api;
using Zk.Embedded.Consensus;
using Zk.Embedded.Ensemble;
using Zk.Embedded.Storage;
using Zk.Embedded.Tests.Storage;

namespace Zk.Embedded.Tests.Ensemble;

/// <summary>
/// The stores' side of periodic snapshots and autopurge on real files: a stale snapshot (not newer, or past the log)
/// is ignored, purge keeps snapRetainCount snapshots and the log from the oldest of them, a restart loads the newest
/// snapshot and the log after it, and a TRUNC after a purge still leaves no snapshot newer than its point
/// (ZOOKEEPER-1549); the in-memory store keeps one snapshot and drops the log it covers.
/// </summary>
public sealed class StoreSnapshotPurgeTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private long _seq;

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Purge_keeps_the_newest_snapshots_and_the_log_from_the_oldest_kept_and_a_restart_loads_the_newest()
    {
        using (var store = DurableConsensusStore.Open(_dir.Path))
        {
            store.Write(new WriteAcceptedEpoch(++_seq, 1));
            store.Write(new WriteCurrentEpoch(++_seq, 1));
            for (uint c = 1; c <= 10; c++)
            {
                store.Write(new AppendTxn(++_seq, DurableConsensusStoreTests.TxnFor(new Zxid(1, c))));
                store.Sync(); // one batch per txn, so purge can remove them one by one
            }

            foreach (uint c in new uint[] { 3, 5, 7, 9 })
                Assert.True(store.SaveSnapshot(Snapshot(new Zxid(1, c))), $"expected the snapshot at (1,{c}) kept");
            Assert.False(store.SaveSnapshot(Snapshot(new Zxid(1, 4))), "expected a snapshot older than the newest ignored");
            Assert.False(store.SaveSnapshot(Snapshot(new Zxid(1, 11))), "expected a snapshot past the log ignored");
            Assert.False(store.SaveSnapshot(Snapshot(new Zxid(2, 1))), "expected a snapshot of another history ignored");

            Assert.Equal(1, store.Purge(3));
            await store.PurgeInFlight.WaitAsync(TimeSpan.FromSeconds(30));
        }

        Assert.Equal([new Zxid(1, 9), new Zxid(1, 7), new Zxid(1, 5)], SnapshotFile.List(_dir.Path).Select(s => s.Zxid));
        using (var log = TxnLog.Open(_dir.Path))
        {
            var first = log.ReadFrom(default).First().Zxid;
            Assert.True(first > new Zxid(1, 3) && first <= new Zxid(1, 6), $"expected the log to start after (1,3) and no later than (1,6), it starts at {first}");
        }

        using var reopened = DurableConsensusStore.Open(_dir.Path);
        var state = reopened.Load();
        Assert.Equal(new Zxid(1, 9), state.SnapshotZxid);
        Assert.Equal([new Zxid(1, 10)], state.Log.Select(t => t.Zxid));
        Assert.Equal(new Zxid(1, 5), reopened.Shape.BaseSnapshotZxid);

        reopened.Write(new TruncateAfter(++_seq, new Zxid(1, 6)));
        Assert.Equal([new Zxid(1, 5)], SnapshotFile.List(_dir.Path).Select(s => s.Zxid));
        Assert.Equal(new Zxid(1, 6), reopened.Shape.LastZxid);
    }

    [Fact]
    public async Task A_members_long_purge_lets_its_log_writes_in_between_its_steps()
    {
        // The storage worker used to purge in order with its writes, so a member's writes waited for the whole purge.
        const int Txns = TxnLog.PurgeStepBatches * 5 / 2;
        var appended = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var steps = 0;
        var writtenDuringPurge = false;
        using (var store = DurableConsensusStore.Open(_dir.Path, forceSync: false, hook: point =>
               {
                   if (point != TxnLogOptions.HookPurgeStep || steps++ > 0)
                       return;
                   // On the purging thread, between two steps: the worker must write, sync and report an append now.
                   writtenDuringPurge = appended.Task.Wait(TimeSpan.FromSeconds(10));
               }))
        {
            store.Write(new WriteAcceptedEpoch(++_seq, 1));
            store.Write(new WriteCurrentEpoch(++_seq, 1));
            for (uint c = 1; c <= Txns; c++)
            {
                store.Write(new AppendTxn(++_seq, DurableConsensusStoreTests.TxnFor(new Zxid(1, c))));
                store.Sync(); // one batch per txn: the purge takes several steps
            }

            Assert.True(store.SaveSnapshot(Snapshot(new Zxid(1, 10))), "expected the snapshot at (1,10) kept");
            Assert.True(store.SaveSnapshot(Snapshot(new Zxid(1, Txns - 10))), $"expected the snapshot at (1,{Txns - 10}) kept");
            var append = new AppendTxn(++_seq, DurableConsensusStoreTests.TxnFor(new Zxid(1, Txns + 1)));
            var worker = new StorageWorker(store, seq =>
            {
                if (seq >= append.Seq)
                    appended.TrySetResult();
            }, e => appended.TrySetException(e));
            try
            {
                worker.Enqueue(new PurgeLog(1));
                worker.Enqueue(append);
                await appended.Task.WaitAsync(TimeSpan.FromSeconds(30));
                await store.PurgeInFlight.WaitAsync(TimeSpan.FromSeconds(30));
            }
            finally
            {
                await worker.DisposeAsync();
            }

            Assert.True(writtenDuringPurge, "expected the worker to write, sync and report an append between the purge's steps (10 s)");
            Assert.True(steps >= 3, $"expected a purge of {Txns - 10} one-txn batches to take at least 3 steps of {TxnLog.PurgeStepBatches}, took {steps}");
            Assert.Equal(new Zxid(1, Txns - 10), store.Shape.BaseSnapshotZxid);
        }

        Assert.Equal([new Zxid(1, Txns - 10)], SnapshotFile.List(_dir.Path).Select(s => s.Zxid));
        using var log = TxnLog.Open(_dir.Path);
        var left = log.ReadFrom(default).Select(t => t.Zxid.Counter).ToList();
        Assert.Equal(Enumerable.Range(Txns - 9, 11).Select(c => (uint)c), left); // the 10 after the snapshot and the append
    }

    [Fact]
    public async Task A_purge_that_fails_is_logged_the_store_goes_on_and_the_next_purge_covers_what_it_left()
    {
        var fail = true;
        var logger = new EventLogger();
        using (var store = DurableConsensusStore.Open(_dir.Path, forceSync: false, logger: logger, hook: point =>
               {
                   if (point == TxnLogOptions.HookPurgeStep && fail)
                   {
                       fail = false;
                       throw new IOException("test: the disk failed between two purge steps");
                   }
               }))
        {
            store.Write(new WriteAcceptedEpoch(++_seq, 1));
            store.Write(new WriteCurrentEpoch(++_seq, 1));
            for (uint c = 1; c <= 30; c++)
            {
                store.Write(new AppendTxn(++_seq, DurableConsensusStoreTests.TxnFor(new Zxid(1, c))));
                store.Sync();
            }

            foreach (uint c in new uint[] { 5, 10, 20 })
                Assert.True(store.SaveSnapshot(Snapshot(new Zxid(1, c))), $"expected the snapshot at (1,{c}) kept");
            Assert.Equal(1, store.Purge(2));
            await store.PurgeInFlight.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.True(logger.Ids.Contains(3009), $"expected PurgeFailed (3009) logged, saw [{string.Join(", ", logger.Ids)}]");

            store.Write(new AppendTxn(++_seq, DurableConsensusStoreTests.TxnFor(new Zxid(1, 31))));
            store.Sync();   // the store goes on after a failed purge
            Assert.True(store.SaveSnapshot(Snapshot(new Zxid(1, 30))), "expected the snapshot at (1,30) kept");
            Assert.Equal(1, store.Purge(2));
            await store.PurgeInFlight.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.True(logger.Ids.Contains(3005), $"expected Purged (3005) logged by the second purge, saw [{string.Join(", ", logger.Ids)}]");
        }

        Assert.Equal([new Zxid(1, 30), new Zxid(1, 20)], SnapshotFile.List(_dir.Path).Select(s => s.Zxid));
        using (var reopened = DurableConsensusStore.Open(_dir.Path))
        {
            var state = reopened.Load();
            Assert.Equal(new Zxid(1, 30), state.SnapshotZxid);
            Assert.Equal([new Zxid(1, 31)], state.Log.Select(t => t.Zxid));
        }

        using var log = TxnLog.Open(_dir.Path);
        Assert.Equal(new Zxid(1, 21), log.ReadFrom(default).First().Zxid); // the failed purge's range went with the second
    }

    [Fact]
    public void The_in_memory_store_keeps_one_newer_snapshot_and_drops_the_log_it_covers()
    {
        var store = new ConsensusLog();
        store.Write(new WriteAcceptedEpoch(++_seq, 1));
        store.Write(new WriteCurrentEpoch(++_seq, 1));
        for (uint c = 1; c <= 10; c++)
            store.Write(new AppendTxn(++_seq, DurableConsensusStoreTests.TxnFor(new Zxid(1, c))));

        IConsensusStore disk = store;
        disk.SaveSnapshot(Snapshot(new Zxid(1, 6)));
        disk.SaveSnapshot(Snapshot(new Zxid(1, 4))); // stale
        var state = store.Load();
        Assert.Equal(new Zxid(1, 6), state.SnapshotZxid);
        Assert.Equal(Enumerable.Range(7, 4).Select(c => new Zxid(1, (uint)c)), state.Log.Select(t => t.Zxid));
        Assert.Equal(new byte[] { 6 }, store.Snapshot!.Data.ToArray());
    }

    private static ConsensusSnapshot Snapshot(Zxid zxid) => new(zxid, new[] { (byte)zxid.Counter });

    /// <summary>Records the event ids logged (from any thread: the purge logs from its own).</summary>
    private sealed class EventLogger : ILogger
    {
        private readonly System.Collections.Concurrent.ConcurrentQueue<int> _ids = new();

        public IReadOnlyCollection<int> Ids => _ids.ToArray();

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            _ids.Enqueue(eventId.Id);
    }
}
