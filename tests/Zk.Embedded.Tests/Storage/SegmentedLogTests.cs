using Zk.Embedded.Storage;
using Zk.Embedded.Txns;

namespace Zk.Embedded.Tests.Storage;

/// <summary>The txn log across segments: rotation, background checkpoints, reads, TRUNC, purge, epochs, dump.</summary>
public sealed class SegmentedLogTests : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>A few commits fill a segment (each commit writes at least a data, an index and a header page).</summary>
    private static TxnLogOptions Small(Action<string>? hook = null) => new() { SegmentPages = 8, Hook = hook };

    /// <summary>Appends batches of 20 txns until the log has <paramref name="segments"/> segments; returns them all.</summary>
    private static List<Txn> Fill(TxnLog log, int segments, List<Txn>? written = null)
    {
        written ??= [];
        while (log.SegmentCount < segments)
        {
            var batch = TxnLogTests.Batch(log.LastZxid + 1, 20);
            log.Append(batch);
            written.AddRange(batch);
        }

        return written;
    }

    [Fact]
    public async Task A_log_over_several_segments_reads_back_in_order_after_reopening()
    {
        List<Txn> written;
        using (var log = TxnLog.Open(_dir.Path, Small()))
        {
            written = Fill(log, 4);
            await log.CheckpointsInFlight.WaitAsync(Deadline);
            StorageAssert.SameTxns(written, [.. log.ReadFrom(0)]);
            foreach (var wal in new[] { "txnlog-wal.db", "txnlog-wal-2.db", "txnlog.000002-wal.db", "txnlog.000002-wal-2.db" })
            {
                // Checkpointed and sealed: no preallocated room kept (it would be disk wasted per segment).
                var length = new FileInfo(_dir.File(wal)).Length;
                Assert.True(length <= WalFile.HeaderBytes + WalFile.SlotSize, $"{wal} of a sealed segment is {length} bytes");
            }
        }

        Assert.True(File.Exists(_dir.File("txnlog.000003.db")), "expected segment files txnlog.000001.db .. txnlog.000003.db");
        using var reopened = TxnLog.Open(_dir.Path, Small());
        Assert.Equal(4, reopened.SegmentCount);
        Assert.Equal(written[^1].Zxid, reopened.LastZxid);
        StorageAssert.SameTxns(written, [.. reopened.ReadFrom(0)]);
        StorageAssert.SameTxns(written[70..], [.. reopened.ReadFrom(70)]);
    }

    [Fact]
    public async Task Writes_and_syncs_go_on_while_a_sealed_segment_is_held_inside_its_checkpoint()
    {
        using var inCheckpoint = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        void Hook(string point)
        {
            if (point == TxnLogOptions.HookCheckpointStart)
            {
                inCheckpoint.Set();
                release.Wait(Deadline);
            }
        }

        using var log = TxnLog.Open(_dir.Path, Small(Hook));
        var written = Fill(log, 2);
        Assert.True(inCheckpoint.Wait(Deadline), "the sealed segment's checkpoint did not start");

        // The checkpoint is stopped at its start: the active segment still takes writes and syncs them.
        for (var i = 0; i < 3; i++)
        {
            var batch = TxnLogTests.Batch(log.LastZxid + 1, 20);
            log.Append(batch);
            written.AddRange(batch);
        }

        Assert.Equal(written[^1].Zxid, log.SyncedZxid);
        Assert.False(log.CheckpointsInFlight.IsCompleted, "the checkpoint should still be held by the hook");
        release.Set();
        await log.CheckpointsInFlight.WaitAsync(Deadline);
        StorageAssert.SameTxns(written, [.. log.ReadFrom(0)]);
    }

    [Fact]
    public void Truncating_into_the_first_segment_deletes_the_later_ones_and_the_log_goes_on_from_there()
    {
        using (var log = TxnLog.Open(_dir.Path, Small()))
        {
            var written = Fill(log, 4);
            var removed = log.TruncateAfter(10);
            Assert.Equal(written.Count - 10, removed);
            Assert.Equal(1, log.SegmentCount);
            Assert.Equal(10, log.LastZxid);
            var again = TxnLogTests.Batch(11, 5);
            log.Append(again);
            StorageAssert.SameTxns([.. written[..10], .. again], [.. log.ReadFrom(0)]);
        }

        Assert.False(File.Exists(_dir.File("txnlog.000003.db")), "segment 3 should be gone");
        using var reopened = TxnLog.Open(_dir.Path, Small());
        Assert.InRange(reopened.SegmentCount, 1, 2); // segment 0, and perhaps an empty segment 1 made ahead of need
        Assert.Equal(15, reopened.LastZxid);
        Assert.Equal(15, reopened.ReadFrom(0).Count());
    }

    [Fact]
    public void Truncating_inside_a_middle_segment_keeps_the_ones_before_it()
    {
        using var log = TxnLog.Open(_dir.Path, Small());
        var written = Fill(log, 5);
        var cut = written.Count / 2;
        log.TruncateAfter(cut);
        Assert.Equal(cut, log.LastZxid);
        Assert.InRange(log.SegmentCount, 2, 4);
        var again = TxnLogTests.Batch(cut + 1, 3);
        log.Append(again);
        StorageAssert.SameTxns([.. written[..cut], .. again], [.. log.ReadFrom(0)]);
        Fill(log, log.SegmentCount + 2);
        Assert.Equal(log.LastZxid, log.ReadFrom(0).Count());
    }

    [Fact]
    public async Task Purge_deletes_whole_sealed_segments_and_keeps_the_epochs_and_the_last_txn()
    {
        long last;
        using (var log = TxnLog.Open(_dir.Path, Small()))
        {
            log.SetAcceptedEpoch(3);
            log.SetCurrentEpoch(2);
            Fill(log, 4);
            await log.CheckpointsInFlight.WaitAsync(Deadline);
            last = log.LastZxid;
            var removed = log.PurgeThrough(last);
            Assert.True(removed > 0, "nothing was purged");
            Assert.Equal(2, log.SegmentCount); // the one holding the last txn, and the empty active one after it
            Assert.Equal(last, log.LastZxid);
        }

        Assert.False(File.Exists(_dir.File(TxnLog.DataFileName)), "segment 0 should be deleted whole");
        using var reopened = TxnLog.Open(_dir.Path, Small());
        Assert.Equal((3L, 2L), (reopened.AcceptedEpoch, reopened.CurrentEpoch));
        Assert.Equal(last, reopened.LastZxid);
        Assert.All(reopened.ReadFrom(0), t => Assert.True(t.Zxid <= last));
    }

    [Fact]
    public void Purge_keeps_segments_holding_txns_after_the_zxid()
    {
        using var log = TxnLog.Open(_dir.Path, Small());
        var written = Fill(log, 4);
        log.PurgeThrough(5);
        Assert.Equal(4, log.SegmentCount);
        StorageAssert.SameTxns(written, [.. log.ReadFrom(0)]);
    }

    [Fact]
    public void Epochs_set_in_an_old_segment_survive_rotation_and_reopening()
    {
        using (var log = TxnLog.Open(_dir.Path, Small()))
        {
            log.SetAcceptedEpoch(7);
            Fill(log, 3);
            log.SetCurrentEpoch(7);
        }

        using var reopened = TxnLog.Open(_dir.Path, Small());
        Assert.Equal((7L, 7L), (reopened.AcceptedEpoch, reopened.CurrentEpoch));
    }

    [Fact]
    public void A_segment_made_ahead_becomes_active_at_reopening_and_the_closed_one_gives_back_its_WAL_room()
    {
        var written = new List<Txn>();
        using (var log = TxnLog.Open(_dir.Path, Small()))
        {
            // Half full: the next segment is made in the background; stop before the log moves to it.
            while (!File.Exists(_dir.File("txnlog.000001.db")) || log.SegmentCount > 1)
            {
                Assert.True(log.SegmentCount == 1, "the log rotated before the next segment was seen on disk");
                var batch = TxnLogTests.Batch(log.LastZxid + 1, 1);
                log.Append(batch);
                written.AddRange(batch);
            }
        }

        // LiteDB's close checkpointed segment 0 and kept its WAL's room; as a sealed segment it needs none.
        Assert.True(new FileInfo(_dir.File(TxnLog.WalFileName)).Length > WalFile.HeaderBytes + WalFile.SlotSize, "expected the closed WAL to keep its room");
        using var reopened = TxnLog.Open(_dir.Path, Small());
        Assert.Equal(2, reopened.SegmentCount);
        foreach (var wal in new[] { TxnLog.WalFileName, "txnlog-wal-2.db" })
        {
            var length = new FileInfo(_dir.File(wal)).Length;
            Assert.True(length <= WalFile.HeaderBytes + WalFile.SlotSize, $"{wal} of the sealed segment 0 is {length} bytes");
        }

        StorageAssert.SameTxns(written, [.. reopened.ReadFrom(0)]);
        var more = TxnLogTests.Batch(reopened.LastZxid + 1, 3);
        reopened.Append(more);
        StorageAssert.SameTxns([.. written, .. more], [.. reopened.ReadFrom(0)]);
    }

    [Fact]
    public void The_log_dump_prints_every_segment_and_changes_no_file()
    {
        List<Txn> written;
        using (var log = TxnLog.Open(_dir.Path, Small()))
        {
            written = Fill(log, 3);
            log.CloseLikeACrash();
        }

        var before = Directory.GetFiles(_dir.Path).Order(StringComparer.Ordinal).Select(f => (f, File.ReadAllBytes(f))).ToList();
        using var output = new StringWriter();
        Assert.Equal(written.Count, StorageDump.DumpLog(_dir.Path, output));
        var after = Directory.GetFiles(_dir.Path).Order(StringComparer.Ordinal).Select(f => (f, File.ReadAllBytes(f))).ToList();
        Assert.Equal(before.Select(b => b.f), after.Select(a => a.f));
        for (var i = 0; i < before.Count; i++)
        {
            Assert.True(before[i].Item2.AsSpan().SequenceEqual(after[i].Item2), $"{before[i].f} changed");
        }
    }
}
