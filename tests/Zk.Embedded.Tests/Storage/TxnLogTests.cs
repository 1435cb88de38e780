using LiteDB;
using Zk.Embedded.Api;
using Zk.Embedded.Tests.Txns;
using Zk.Embedded.Txns;
using Zk.Embedded.Processing;
using Zk.Embedded.Storage;

namespace Zk.Embedded.Tests.Storage;

public sealed class TxnLogTests : IDisposable
{
    private static readonly string[] KindNames = TxnCodecTests.KindNames;
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>Txns of every kind with zxids first, first+1, ... (the ops need not make sense: the log does not apply them).</summary>
    internal static List<Txn> Batch(long first, int count)
    {
        var batch = new List<Txn>(count);
        for (var i = 0; i < count; i++)
        {
            batch.Add(TxnCodecTests.Sample(KindNames[(int)((first + i) % KindNames.Length)]) with { Zxid = new Zxid(first + i) });
        }

        return batch;
    }

    [Fact]
    public void Appended_batches_read_back_equal_after_reopening()
    {
        var written = new List<Txn>();
        using (var log = TxnLog.Open(_dir.Path))
        {
            Assert.Equal(new Zxid(0), log.LastZxid);
            foreach (var size in new[] { 1, 7, 100, 3 })
            {
                var batch = Batch(written.Count + 1, size);
                log.Append(batch);
                written.AddRange(batch);
            }

            Assert.Equal(new Zxid(written.Count), log.LastZxid);
        }

        using var reopened = TxnLog.Open(_dir.Path);
        Assert.Equal(new Zxid(written.Count), reopened.LastZxid);
        StorageAssert.SameTxns(written, [.. reopened.ReadFrom(default)]);
        StorageAssert.SameTxns(written[50..], [.. reopened.ReadFrom(new Zxid(50))]);
        Assert.Empty(reopened.ReadFrom(new Zxid(written.Count)));
    }

    [Fact]
    public void A_log_longer_than_one_read_query_reads_back_whole_across_the_query_boundaries()
    {
        // LogStore reads ~1 MiB of records per LiteDB query; 6 MiB in batches of 1 to 700 txns crosses several
        // query boundaries, some inside a run of batches of the same store.
        var written = new List<Txn>();
        var data = new byte[2048];
        using (var log = TxnLog.Open(_dir.Path))
        {
            foreach (var size in new[] { 1, 700, 3, 1000, 250, 1, 1 })
            {
                var batch = Enumerable.Range(written.Count + 1, size)
                    .Select(z => new Txn(new Zxid(z), new SessionId(5), z, new SetDataTxn("/r", [.. data, (byte)z], z)))
                    .ToList();
                log.Append(batch);
                written.AddRange(batch);
            }
        }

        using var reopened = TxnLog.Open(_dir.Path);
        StorageAssert.SameTxns(written, [.. reopened.ReadFrom(default)]);
        StorageAssert.SameTxns(written[1500..], [.. reopened.ReadFrom(new Zxid(1500))]);
    }

    [Fact]
    public void Committed_batches_survive_a_crash_across_an_automatic_checkpoint_and_a_commit_cut_short_is_dropped()
    {
        var log = TxnLog.Open(_dir.Path, new TxnLogOptions { CheckpointPages = 1000 });
        var written = Batch(1, 700);
        var syncsAtStart = log.DataSyncCount;
        for (var i = 0; i < 600; i++)
        {
            log.Append(written[i..(i + 1)]); // one page set per commit: LiteDB checkpoints by itself
        }

        Assert.True(log.DataSyncCount > syncsAtStart, "expected LiteDB to have checkpointed into the data file");
        for (var i = 600; i < 700; i += 50)
        {
            log.Append(written[i..(i + 50)]);
        }

        var wal = log.WalPath;
        log.CloseLikeACrash();
        var end = WalFileTests.LogicalEnd(wal);
        Assert.True(end > 0, "the batches should still be in LiteDB's WAL");

        // The last commit's last page (the one LiteDB marks confirmed) never reached the disk: that commit is gone,
        // as it would be had the crash come before its sync, and everything before it is intact.
        WalFileTests.ZeroPage(wal, end - WalFile.PageSize);
        using var reopened = TxnLog.Open(_dir.Path);
        Assert.Equal(new Zxid(650), reopened.LastZxid);
        StorageAssert.SameTxns(written[..650], [.. reopened.ReadFrom(default)]);
    }

    [Fact]
    public void ForceSync_is_on_by_default_and_syncs_the_wal_once_per_batch()
    {
        Assert.True(new TxnLogOptions().ForceSync);
        using var log = TxnLog.Open(_dir.Path);
        var before = log.WalSyncCount;
        log.Append(Batch(1, 100));
        log.Append(Batch(101, 1));
        Assert.Equal(before + 2, log.WalSyncCount);
    }

    [Fact]
    public void One_sync_covers_every_batch_written_before_it()
    {
        using var log = TxnLog.Open(_dir.Path);
        var before = log.WalSyncCount;
        log.Write(Batch(1, 10));
        log.Write(Batch(11, 10));
        log.Sync(new Zxid(10));
        Assert.Equal(before + 1, log.WalSyncCount);
        log.Sync(new Zxid(20)); // written before the first sync started: already durable
        Assert.Equal(before + 1, log.WalSyncCount);
        log.Write(Batch(21, 1));
        log.Sync(new Zxid(21));
        Assert.Equal(before + 2, log.WalSyncCount);
    }

    [Fact]
    public async Task Syncs_running_beside_the_writer_lose_nothing()
    {
        // 12 MB of records: more than a move and its checkpoint (1000 WAL pages, ~8 MB) while the syncs run.
        var data = new byte[4096];
        var written = Enumerable.Range(1, 3000).Select(i => new Txn(new Zxid(i), new SessionId(1), 1, new SetDataTxn("/n" + (i % 10), data, i))).ToList();
        using (var log = TxnLog.Open(_dir.Path, new TxnLogOptions { CheckpointPages = 1000 }))
        {
            var dataSyncs = log.DataSyncCount;
            var done = 0L;
            var syncer = Task.Run(() =>
            {
                // Sync whatever is written by now, over and over, while the writer goes on (the pipeline's shape).
                while (Volatile.Read(ref done) == 0)
                {
                    log.Sync(log.LastZxid);
                }
            });
            for (var i = 0; i < written.Count; i += 30)
            {
                log.Write(written[i..(i + 30)]); // one LiteDB transaction each
            }

            Volatile.Write(ref done, 1);
            await syncer;
            // The checkpoint now runs on a background thread, so its data-file sync may land after this line; the move
            // that starts it happens on the writer, between the syncs.
            Assert.True(log.Moves > 0, $"expected the log to move to its other store (starting a checkpoint) while the syncs ran; data syncs {log.DataSyncCount - dataSyncs}");
            log.Sync(new Zxid(written.Count));
            log.CloseLikeACrash();
        }

        using var reopened = TxnLog.Open(_dir.Path);
        Assert.Equal(new Zxid(written.Count), reopened.LastZxid);
        StorageAssert.SameTxns(written, [.. reopened.ReadFrom(default)]);
    }

    [Fact]
    public void ForceSync_off_skips_the_fsync()
    {
        using var log = TxnLog.Open(_dir.Path, new TxnLogOptions { ForceSync = false });
        var before = log.WalSyncCount;
        log.Append(Batch(1, 10));
        Assert.Equal(before, log.WalSyncCount);
    }

    [Fact]
    public void A_checkpoint_syncs_the_data_file_before_it_empties_the_wal()
    {
        var events = new List<FileEvent>();
        using var log = TxnLog.Open(_dir.Path, new TxnLogOptions { Observer = events.Add });
        log.Append(Batch(1, 200));
        log.Checkpoint(); // what opening left to do (a checkpoint of the other store) is done, its events too
        log.Append(Batch(201, 200));
        events.Clear();
        log.Checkpoint();
        var shrink = events.IndexOf(new FileEvent("wal", FileEventKind.Shrink));
        Assert.True(shrink > 0, $"expected the WAL to be emptied: {string.Join(", ", events)}");
        Assert.Contains(new FileEvent("data", FileEventKind.Sync), events[..shrink]);
        Assert.Equal(new FileEvent("wal", FileEventKind.Sync), events[^1]);
        StorageAssert.SameTxns(Batch(1, 400), [.. log.ReadFrom(default)]);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_checkpoint_reaches_the_data_file_in_synced_pieces_when_wal_syncs_would_wait_behind_it(bool forceSync)
    {
        var events = new List<FileEvent>();
        using var log = TxnLog.Open(_dir.Path, new TxnLogOptions { Observer = events.Add, ForceSync = forceSync });
        log.Checkpoint();
        var data = new byte[4096];
        // ~4 MB of WAL pages: one checkpoint copies them into the data file.
        log.Append([.. Enumerable.Range(1, 1000).Select(z => new Txn(new Zxid(z), new SessionId(5), z, new SetDataTxn("/r", [.. data, (byte)z], z)))]);
        events.Clear();
        log.Checkpoint();
        var shrink = events.IndexOf(new FileEvent("wal", FileEventKind.Shrink));
        var dataSyncs = events[..shrink].Count(e => e == new FileEvent("data", FileEventKind.Sync));
        if (forceSync)
        {
            Assert.True(dataSyncs >= 4, $"expected the ~4 MB checkpoint to sync the data file every 512 KiB or so, saw {dataSyncs} data syncs: {string.Join(", ", events)}");
        }
        else
        {
            // No WAL sync waits on the disk, so pieces would only slow the checkpoint down (4x with 64 writers).
            Assert.True(dataSyncs == 1, $"expected one data sync before the WAL is emptied without forceSync, saw {dataSyncs}: {string.Join(", ", events)}");
        }

        Assert.Equal(1000, log.ReadFrom(default).Count());
    }

    [Fact]
    public void A_closed_log_is_not_kept_reachable_by_the_streams_LiteDB_pools_on_a_thread()
    {
        // LiteDB pools its reader streams in a ConcurrentBag whose per-thread slot holds them after the engine is
        // disposed, until a full GC has finalized the bag's ThreadLocal. A stream that still reached its store (the
        // WAL's BeforeShrink did) kept the closed engine, its page caches and the files' buffers alive meanwhile: the
        // simulator's LiteDB runs grew by ~20 MB a run and one of 2,000 runs was killed for memory at 24 GB.
        var options = OpenUseAndClose();
        GC.Collect();
        Assert.False(options.IsAlive, "expected the closed log's options (and its store, which the WAL's BeforeShrink reached) to be collected while this thread still holds LiteDB's pooled streams");
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private WeakReference OpenUseAndClose()
    {
        var options = new TxnLogOptions();
        using (var log = TxnLog.Open(_dir.Path, options))
        {
            log.Append(Batch(1, 50));
            log.Checkpoint();
            log.Append(Batch(51, 50));
            Assert.Equal(100, log.ReadFrom(default).Count()); // reads rent and return LiteDB's pooled streams on this thread
        }

        return new WeakReference(options);
    }

    [Fact]
    public void A_flipped_byte_in_a_stored_record_is_reported_with_its_zxid_after_the_good_ones()
    {
        using (var log = TxnLog.Open(_dir.Path))
        {
            log.Append(Batch(1, 20));
        }

        CorruptRecord(_dir, zxid: new Zxid(13), byteIndex: 9);

        using var reopened = TxnLog.Open(_dir.Path);
        var good = new List<Txn>();
        var e = Assert.Throws<StorageCorruptionException>(() =>
        {
            foreach (var txn in reopened.ReadFrom(default))
            {
                good.Add(txn);
            }
        });
        Assert.Equal(CorruptionKind.ChecksumMismatch, e.Kind);
        Assert.Equal(new Zxid(13), e.Zxid);
        Assert.Contains("zxid 0xd", e.Message, StringComparison.Ordinal);
        Assert.Contains(TxnLog.DataFileName, e.Message, StringComparison.Ordinal);
        StorageAssert.SameTxns(Batch(1, 12), good);

        Assert.Equal(8, reopened.TruncateAfter(new Zxid(12)));
        Assert.Equal(new Zxid(12), reopened.LastZxid);
        StorageAssert.SameTxns(Batch(1, 12), [.. reopened.ReadFrom(default)]);
    }

    [Fact]
    public void Zxids_must_grow_and_a_bad_batch_writes_nothing_not_even_into_the_next_good_batch()
    {
        using var log = TxnLog.Open(_dir.Path);
        log.Append(Batch(1, 5));
        var bad = Batch(6, 3);
        bad[2] = bad[2] with { Zxid = new Zxid(6) };
        Assert.Throws<InvalidOperationException>(() => log.Append(bad));
        Assert.Throws<InvalidOperationException>(() => log.Append(Batch(5, 1)));
        Assert.Equal(new Zxid(5), log.LastZxid);
        Assert.Equal(5, log.ReadFrom(default).Count());

        // The refused batch's first entries (6, 7) must not ride along with the next batch's document.
        log.Append(Batch(6, 2));
        StorageAssert.SameTxns(Batch(1, 7), [.. log.ReadFrom(default)]);
    }

    [Fact]
    public void Records_made_already_are_logged_as_they_are_and_read_back_equal_after_reopening()
    {
        var written = Batch(1, 40);
        using (var log = TxnLog.Open(_dir.Path))
        {
            log.Write(written.Take(25).Select(t => new EncodedTxn(t.Zxid, TxnCodec.Encode(t))).ToList());
            log.Write(written.Skip(25).Select(t => new EncodedTxn(t.Zxid, TxnCodec.Encode(t))).ToList());
            log.Sync(log.LastZxid);
            Assert.Throws<InvalidOperationException>(() => log.Write([new EncodedTxn(new Zxid(40), TxnCodec.Encode(written[^1]))]));
        }

        using var reopened = TxnLog.Open(_dir.Path);
        StorageAssert.SameTxns(written, [.. reopened.ReadFrom(default)]);
    }

    [Fact]
    public void A_sync_running_beside_a_truncation_does_not_mark_the_removed_zxids_synced()
    {
        using var syncing = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var holdSync = false;
        using var log = TxnLog.Open(_dir.Path, new TxnLogOptions
        {
            Hook = point =>
            {
                if (point != TxnLogOptions.HookSyncStart || !Volatile.Read(ref holdSync))
                    return;
                syncing.Set();
                release.Wait(TimeSpan.FromSeconds(30));
            },
        });
        log.Append(Batch(1, 5));
        log.Write(Batch(6, 5));
        Volatile.Write(ref holdSync, true);
        // A sync of zxid 10 has read the log's end (10) and waits at the hook; a truncation to 5 runs meanwhile.
        var sync = new Thread(() => log.Sync(new Zxid(10)));
        sync.Start();
        Assert.True(syncing.Wait(TimeSpan.FromSeconds(30)), "expected the sync to reach its hook");
        Volatile.Write(ref holdSync, false);
        var truncation = new Thread(() => log.TruncateAfter(new Zxid(5)));
        truncation.Start();
        // Either the truncation waits for the sync (the fix) or it finishes first (the race): go on at either.
        WaitUntilBlockedOrDone(truncation);
        release.Set();
        Assert.True(sync.Join(TimeSpan.FromSeconds(30)) && truncation.Join(TimeSpan.FromSeconds(30)), "expected the sync and the truncation to finish");

        Assert.Equal(new Zxid(5), log.LastZxid);
        Assert.True(log.SyncedZxid <= log.LastZxid, $"expected nothing past the log's end (5) counted synced, got {log.SyncedZxid}");
        // What is written again under the removed zxids must wait for a sync of its own.
        log.Write(Batch(6, 2));
        Assert.Equal(new Zxid(5), log.SyncedZxid);
    }

    [Fact]
    public void A_log_closed_while_a_sync_runs_on_another_thread_closes_after_it()
    {
        using var syncing = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var log = TxnLog.Open(_dir.Path, new TxnLogOptions
        {
            Hook = point =>
            {
                if (point != TxnLogOptions.HookSyncStart || syncing.IsSet)
                    return;
                syncing.Set();
                release.Wait(TimeSpan.FromSeconds(30));
            },
        });
        log.Write(Batch(1, 5));
        Exception? failure = null;
        var sync = new Thread(() =>
        {
            try
            {
                log.Sync(new Zxid(5));
            }
            catch (Exception e)
            {
                failure = e;
            }
        });
        sync.Start();
        Assert.True(syncing.Wait(TimeSpan.FromSeconds(30)), "expected the sync to reach its hook");
        var close = new Thread(log.Dispose);
        close.Start();
        // Either the close waits for the sync (the fix) or it closes the files under it (the race): go on at either.
        WaitUntilBlockedOrDone(close);
        release.Set();
        Assert.True(sync.Join(TimeSpan.FromSeconds(30)) && close.Join(TimeSpan.FromSeconds(30)), "expected the sync and the close to finish");

        Assert.True(failure is null, $"expected the running sync to finish before the files closed, it failed: {failure}");
        using var reopened = TxnLog.Open(_dir.Path);
        StorageAssert.SameTxns(Batch(1, 5), [.. reopened.ReadFrom(default)]);
    }

    /// <summary>Returns once <paramref name="thread"/> waits (on a lock) or has ended, or after 30 s.</summary>
    private static void WaitUntilBlockedOrDone(Thread thread)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (thread.IsAlive && (thread.ThreadState & ThreadState.WaitSleepJoin) == 0 && DateTime.UtcNow < deadline)
            Thread.Yield();
    }

    [Fact]
    public void Epochs_start_at_zero_and_persist()
    {
        using (var log = TxnLog.Open(_dir.Path))
        {
            Assert.Equal((0L, 0L), (log.CurrentEpoch, log.AcceptedEpoch));
            log.SetAcceptedEpoch(5);
            log.SetCurrentEpoch(4);
        }

        using var reopened = TxnLog.Open(_dir.Path);
        Assert.Equal((4L, 5L), (reopened.CurrentEpoch, reopened.AcceptedEpoch));
    }

    [Fact]
    public void A_second_log_on_the_same_directory_is_refused()
    {
        using var log = TxnLog.Open(_dir.Path);
        Assert.ThrowsAny<IOException>(() => TxnLog.Open(_dir.Path));
    }

    /// <summary>Flips one byte of the record of <paramref name="zxid"/> inside its batch document, through LiteDB itself.</summary>
    internal static void CorruptRecord(TempDirectory dir, Zxid zxid, int byteIndex)
    {
        // LiteDB's own log in memory, checkpointed into the data file at close: the txn log's WAL files are in our
        // slot format (and empty after the log's clean close), not something LiteDB can open raw.
        using var data = new FileStream(dir.File(TxnLog.DataFileName), FileMode.Open, FileAccess.ReadWrite);
        using var wal = new MemoryStream();
        using var db = new LiteDatabase(data, logStream: wal);
        var txns = db.GetCollection("txns");
        // Batches are keyed by their last zxid; entries are [zxid (8)][length (4)][record].
        var doc = txns.Find(Query.GTE("_id", zxid.Value)).First();
        var batch = doc["r"].AsBinary;
        var offset = 0;
        while (System.Buffers.Binary.BinaryPrimitives.ReadInt64BigEndian(batch.AsSpan(offset)) != zxid.Value)
        {
            offset += 12 + System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(batch.AsSpan(offset + 8));
        }

        batch[offset + 12 + byteIndex] ^= 0x01;
        doc["r"] = batch;
        Assert.True(txns.Update(doc));
    }
}
