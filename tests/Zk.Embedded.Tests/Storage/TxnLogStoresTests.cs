using Zk.Embedded.Api;
using Zk.Embedded.Storage;
using Zk.Embedded.Txns;

namespace Zk.Embedded.Tests.Storage;

/// <summary>
/// The txn log's two stores: the log moves to the other one every <see cref="TxnLogOptions.CheckpointPages"/> WAL
/// pages and checkpoints the one it left in the background; reads merge them, truncation and purge keep the log one
/// contiguous run of zxids, and writes go on while a checkpoint is held.
/// </summary>
public sealed class TxnLogStoresTests : IDisposable
{
    private const int Pages = 8;
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private TxnLogOptions Small(Action<string>? hook = null) => new() { CheckpointPages = Pages, Hook = hook };

    /// <summary>
    /// Appends batches of 5 until the log moved at least <paramref name="moves"/> times; returns what it wrote. When
    /// <paramref name="runEnds"/> is given, it receives the last zxid before each move: where one run of batches ends
    /// and the next, in the other store, begins (a move waits for the previous background checkpoint, so how long each
    /// run is depends on timing).
    /// </summary>
    private static List<Txn> Fill(TxnLog log, int moves, List<Txn>? written = null, List<int>? runEnds = null)
    {
        written ??= [];
        var appends = 0;
        while (log.Moves < moves)
        {
            Assert.True(++appends < 5_000, $"expected {moves} moves between the stores within 5,000 appends; {log.Describe()}");
            var before = log.Moves;
            var batch = TxnLogTests.Batch(written.Count + 1, 5);
            log.Append(batch);
            written.AddRange(batch);
            if (log.Moves != before)
                runEnds?.Add(written.Count);
        }

        return written;
    }

    [Fact]
    public void Batches_spread_over_both_stores_read_back_in_zxid_order_after_reopening()
    {
        List<Txn> written;
        using (var log = TxnLog.Open(_dir.Path, Small()))
        {
            written = Fill(log, moves: 5);
            StorageAssert.SameTxns(written, [.. log.ReadFrom(default)]);
        }

        Assert.True(File.Exists(_dir.File(TxnLog.SecondDataFileName)), "expected the second store's data file");
        using var reopened = TxnLog.Open(_dir.Path, Small());
        Assert.Equal(written[^1].Zxid, reopened.LastZxid);
        StorageAssert.SameTxns(written, [.. reopened.ReadFrom(default)]);
        StorageAssert.SameTxns(written[17..], [.. reopened.ReadFrom(new Zxid(17))]);

        // Appending goes on where the newest batch is, and the merge still reads one run.
        var more = TxnLogTests.Batch(written.Count + 1, 5);
        reopened.Append(more);
        StorageAssert.SameTxns([.. written, .. more], [.. reopened.ReadFrom(default)]);
    }

    [Fact]
    public void Truncation_across_both_stores_leaves_exactly_the_prefix()
    {
        using var log = TxnLog.Open(_dir.Path, Small());
        var written = Fill(log, moves: 6);
        var cut = written.Count / 3 + 2; // inside a batch, several moves back
        var removed = log.TruncateAfter(new Zxid(cut));
        Assert.Equal(written.Count - cut, removed);
        Assert.Equal(new Zxid(cut), log.LastZxid);
        StorageAssert.SameTxns(written[..cut], [.. log.ReadFrom(default)]);

        var next = TxnLogTests.Batch(cut + 1, 5);
        log.Append(next);
        log.Dispose();
        using var reopened = TxnLog.Open(_dir.Path, Small());
        StorageAssert.SameTxns([.. written[..cut], .. next], [.. reopened.ReadFrom(default)]);
    }

    [Fact]
    public void Purge_across_both_stores_keeps_a_contiguous_suffix_and_the_newest_batch()
    {
        using var log = TxnLog.Open(_dir.Path, Small());
        var written = Fill(log, moves: 6);
        var through = written.Count / 2 + 1; // batches end at multiples of 5: the batch holding it stays
        log.PurgeThrough(new Zxid(through));
        var kept = log.ReadFrom(default).ToList();
        var firstKept = (through / 5 * 5) + 1;
        StorageAssert.SameTxns(written[(firstKept - 1)..], kept);

        // Purging everything keeps the newest batch, so the last zxid survives a reopen.
        log.PurgeThrough(written[^1].Zxid);
        StorageAssert.SameTxns(written[^5..], [.. log.ReadFrom(default)]);
        log.Dispose();
        using var reopened = TxnLog.Open(_dir.Path, Small());
        Assert.Equal(written[^1].Zxid, reopened.LastZxid);
    }

    [Fact]
    public void A_truncation_stopped_between_the_two_stores_leaves_a_shorter_contiguous_log_that_a_second_truncation_finishes()
    {
        var stopAt = TxnLogOptions.HookTruncateStep;
        var log = TxnLog.Open(_dir.Path, Small(point => { if (point == stopAt) throw new StoppedAt(point); }));
        var written = Fill(log, moves: 6);
        var cut = written.Count / 3 + 2; // several moves back: both stores lose batches, one after the other
        Assert.Throws<StoppedAt>(() => log.TruncateAfter(new Zxid(cut)));
        log.CloseWithoutCheckpoint(); // the files as a crash right after the first store's synced step leaves them

        using var reopened = TxnLog.Open(_dir.Path, Small());
        var left = reopened.ReadFrom(default).ToList();
        Assert.True(left.Count > cut && left.Count < written.Count, $"expected the first step to have cut the newest run only: {left.Count} of {written.Count} txns left, cut at {cut}");
        StorageAssert.SameTxns(written[..left.Count], left); // a prefix: no hole, nothing changed
        Assert.Equal(left[^1].Zxid, reopened.LastZxid);
        Assert.Equal(left.Count - cut, reopened.TruncateAfter(new Zxid(cut)));
        StorageAssert.SameTxns(written[..cut], [.. reopened.ReadFrom(default)]);
    }

    [Fact]
    public void A_purge_stopped_between_the_two_stores_leaves_a_contiguous_suffix_that_a_second_purge_finishes()
    {
        var stopAt = TxnLogOptions.HookPurgeStep;
        var log = TxnLog.Open(_dir.Path, Small(point => { if (point == stopAt) throw new StoppedAt(point); }));
        var runEnds = new List<int>();
        var written = Fill(log, moves: 6, runEnds: runEnds);
        // Inside the third run's first batch: the first step can purge the first run only, whatever the runs' lengths
        // (a fixed point such as half the log fell inside a first run that a slow checkpoint had made long).
        var through = runEnds[1] + 3;
        Assert.Throws<StoppedAt>(() => log.PurgeThrough(new Zxid(through)));
        log.CloseWithoutCheckpoint();

        using var reopened = TxnLog.Open(_dir.Path, Small());
        var left = reopened.ReadFrom(default).ToList();
        var firstKept = (through / 5 * 5) + 1;
        Assert.Equal(written.Count - runEnds[0], left.Count); // the first run went, nothing else
        StorageAssert.SameTxns(written[^left.Count..], left); // a suffix: no hole, the newest txn kept
        Assert.Equal(written[^1].Zxid, reopened.LastZxid);
        reopened.PurgeThrough(new Zxid(through));
        StorageAssert.SameTxns(written[(firstKept - 1)..], [.. reopened.ReadFrom(default)]);
    }

    private sealed class StoppedAt(string point) : Exception($"stopped at {point}");

    [Fact]
    public void Writes_and_syncs_go_on_while_the_background_checkpoint_is_held()
    {
        using var held = new ManualResetEventSlim();
        using var reached = new ManualResetEventSlim();
        var armed = false;
        var log = TxnLog.Open(_dir.Path, Small(point =>
        {
            if (point == TxnLogOptions.HookCheckpointStart && Volatile.Read(ref armed))
            {
                reached.Set();
                held.Wait(TimeSpan.FromSeconds(30));
            }
        }));
        try
        {
            // The first write starts the checkpoint opening left due (the new second store's pragma page): let it
            // finish unheld, so the one held below is the move's.
            var written = TxnLogTests.Batch(1, 5);
            log.Append(written);
            log.Checkpoint();
            Volatile.Write(ref armed, true);
            Fill(log, moves: 1, written);
            Assert.True(reached.Wait(TimeSpan.FromSeconds(10)), "the move started no background checkpoint");
            var syncs = log.WalSyncCount;
            for (var i = 0; i < 40; i++)
            {
                var batch = TxnLogTests.Batch(written.Count + 1, 5);
                log.Append(batch);
                written.AddRange(batch);
            }

            Assert.Equal(1, log.Moves); // it stays where it is until the checkpoint is done
            Assert.True(log.WalSyncCount >= syncs + 40, $"expected a sync per batch while the checkpoint was held, {log.WalSyncCount - syncs} syncs");
            held.Set();
            Fill(log, moves: 2, written);
            StorageAssert.SameTxns(written, [.. log.ReadFrom(default)]);
        }
        finally
        {
            held.Set();
            log.Dispose();
        }
    }

    [Fact]
    public void Background_checkpoints_run_on_threads_of_their_own_not_on_the_thread_pool()
    {
        // A checkpoint blocks its thread on the disk for up to hundreds of milliseconds; on one of the pool's two
        // workers (2 cores) it stalled every in-process writer whose continuations queued behind it.
        var onPool = new System.Collections.Concurrent.ConcurrentQueue<bool>();
        using (var log = TxnLog.Open(_dir.Path, Small(point =>
        {
            if (point == TxnLogOptions.HookCheckpointStart)
                onPool.Enqueue(Thread.CurrentThread.IsThreadPoolThread);
        })))
        {
            Fill(log, moves: 3);
        }

        Assert.True(onPool.Count >= 3, $"expected a background checkpoint per move (3 moves), saw {onPool.Count}");
        Assert.True(onPool.All(pool => !pool), $"expected every background checkpoint off the thread pool; {onPool.Count(pool => pool)} of {onPool.Count} ran on it");
    }

    [Fact]
    public void A_long_purge_lets_writes_in_between_its_steps()
    {
        // One step used to delete everything under the write lock: ~12 µs a batch held every write for the whole purge.
        var steps = 0;
        var writtenDuringPurge = false;
        TxnLog? log = null;
        log = TxnLog.Open(_dir.Path, new TxnLogOptions
        {
            Hook = point =>
            {
                if (point != TxnLogOptions.HookPurgeStep || steps++ > 0)
                    return;
                // On the purging thread, between two steps: another thread's write and sync must get through now.
                var writer = Task.Run(() => log!.Append(TxnLogTests.Batch(log.LastZxid.Value + 1, 1)));
                writtenDuringPurge = writer.Wait(TimeSpan.FromSeconds(10));
            },
        });
        try
        {
            const int Batches = TxnLog.PurgeStepBatches * 5 / 2;
            for (var i = 1; i <= Batches; i++)
                log.Write(TxnLogTests.Batch(i, 1));
            log.Sync(log.LastZxid);

            var removed = log.PurgeThrough(new Zxid(Batches - 10));

            Assert.True(writtenDuringPurge, "expected a write and sync from another thread to complete between the purge's steps (10 s)");
            Assert.True(steps >= 3, $"expected a purge of {Batches - 10} batches to take at least 3 steps of {TxnLog.PurgeStepBatches}, took {steps}");
            Assert.Equal(Batches - 10, removed);
            var left = log.ReadFrom(default).ToList();
            Assert.Equal(11, left.Count); // 10 kept and the one written during the purge
            Assert.Equal(Batches - 9, left[0].Zxid.Value);
        }
        finally
        {
            log.Dispose();
        }
    }

    [Fact]
    public void Epochs_written_in_either_store_read_as_the_largest()
    {
        using (var log = TxnLog.Open(_dir.Path, Small()))
        {
            log.SetAcceptedEpoch(3);
            log.SetCurrentEpoch(2);
            var written = Fill(log, moves: 1);
            log.SetAcceptedEpoch(5);
            Fill(log, moves: 2, written);
            log.SetCurrentEpoch(4);
            Assert.Equal(5, log.AcceptedEpoch);
            Assert.Equal(4, log.CurrentEpoch);
        }

        using var reopened = TxnLog.Open(_dir.Path, Small());
        Assert.Equal(5, reopened.AcceptedEpoch);
        Assert.Equal(4, reopened.CurrentEpoch);
    }
}
