using Zk.Embedded.Api;
using Zk.Embedded.Storage;

namespace Zk.Embedded.Tests.Storage;

/// <summary>The preallocated WAL: its end is found again from the blank pages, whatever a crash left.</summary>
public sealed class WalFileTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>LiteDB's offset of the first all-zero slot of a WAL file: where LiteDB's log ends.</summary>
    internal static long LogicalEnd(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var generation = WalFile.GenerationOf(bytes);
        long page = 0;
        for (; WalFile.SlotOffset(page + 1) <= bytes.Length; page++)
        {
            if (!WalFile.SlotVerifies(bytes.AsSpan((int)WalFile.SlotOffset(page), WalFile.SlotSize), generation))
            {
                break;
            }
        }

        return page * WalFile.PageSize;
    }

    /// <summary>How many slots of the file at or after LiteDB's byte <paramref name="logical"/> verify under its generation.</summary>
    internal static int VerifyingSlotsFrom(string path, long logical)
    {
        var bytes = File.ReadAllBytes(path);
        var generation = WalFile.GenerationOf(bytes);
        var count = 0;
        for (var page = logical / WalFile.PageSize; WalFile.SlotOffset(page + 1) <= bytes.Length; page++)
        {
            if (WalFile.SlotVerifies(bytes.AsSpan((int)WalFile.SlotOffset(page), WalFile.SlotSize), generation))
                count++;
        }

        return count;
    }

    /// <summary>Where LiteDB's byte <paramref name="logical"/> (a page boundary) is in the file.</summary>
    internal static long Physical(long logical) => WalFile.SlotOffset(logical / WalFile.PageSize);

    /// <summary>Zeroes the slot (page and checksum) of the page at LiteDB's offset <paramref name="logical"/>.</summary>
    internal static void ZeroPage(string path, long logical) => Overwrite(path, Physical(logical), new byte[WalFile.SlotSize]);

    /// <summary>The randomised trials' seed: ZK_SEED when set (to replay a failure), else a fresh one.</summary>
    private static int Seed() =>
        int.TryParse(Environment.GetEnvironmentVariable("ZK_SEED"), out var fixedSeed) ? fixedSeed : Random.Shared.Next();

    /// <summary>Appends <paramref name="commits"/> commits of 40 txns from zxid <paramref name="first"/>, each synced (acknowledged).</summary>
    private static void AppendCommits(TxnLog log, long first, int commits)
    {
        for (var commit = 0; commit < commits; commit++)
        {
            log.Append(TxnLogTests.Batch(first + (commit * 40), 40));
        }
    }

    /// <summary>
    /// Zxids 1–800 in 20 acknowledged commits, then 801–840 in one commit written but never synced, each part closed
    /// like a crash. Returns LiteDB's offset where the acknowledged commits end.
    /// </summary>
    private long AcknowledgedThenUnsynced()
    {
        using (var log = TxnLog.Open(_dir.Path))
        {
            AppendCommits(log, 1, 20);
            log.CloseLikeACrash();
        }

        var acknowledged = LogicalEnd(_dir.File(TxnLog.WalFileName));
        using (var log = TxnLog.Open(_dir.Path))
        {
            log.Write(TxnLogTests.Batch(801, 40));
            log.CloseLikeACrash();
        }

        return acknowledged;
    }

    /// <summary>Runs an assertion of a seeded trial so that its failure names the seed to replay.</summary>
    private static void Seeded(int seed, int trial, Action assertion)
    {
        try
        {
            assertion();
        }
        catch (Exception e)
        {
            throw new Xunit.Sdk.XunitException($"seed={seed} trial={trial} (set ZK_SEED to replay): {e.Message}", e);
        }
    }

    internal static void Overwrite(string path, long offset, ReadOnlySpan<byte> bytes)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Write);
        file.Position = offset;
        file.Write(bytes);
    }

    [Fact]
    public void Commits_overwrite_preallocated_zeros_and_a_reopen_finds_the_end()
    {
        var path = _dir.File(TxnLog.WalFileName);
        using (var log = TxnLog.Open(_dir.Path))
        {
            log.Append(TxnLogTests.Batch(1, 10));
            log.Append(TxnLogTests.Batch(11, 1));
            log.CloseLikeACrash();
        }

        var end = LogicalEnd(path);
        var physical = new FileInfo(path).Length;
        Assert.True(end > 0 && physical > Physical(end), $"expected zeros preallocated past the log's end: end {end}, file {physical} bytes");
        using (var reopened = TxnLog.Open(_dir.Path))
        {
            Assert.Equal(new Zxid(11), reopened.LastZxid);
            reopened.Append(TxnLogTests.Batch(12, 5));
            StorageAssert.SameTxns(TxnLogTests.Batch(1, 16), [.. reopened.ReadFrom(default)]);
            reopened.CloseLikeACrash();
        }

        Assert.True(LogicalEnd(path) > end, "the next commit should continue at the end found, not after the zeros");
        Assert.Equal(physical, new FileInfo(path).Length);
    }

    [Fact]
    public void Emptying_after_a_checkpoint_moves_the_log_to_the_other_file_and_gives_the_emptied_one_a_new_generation()
    {
        var first = _dir.File(TxnLog.WalFileName);
        var second = WalFile.SecondPath(first);
        using (var log = TxnLog.Open(_dir.Path))
        {
            log.Append(TxnLogTests.Batch(1, 200));
            Assert.Equal(first, log.WalPath);
            log.Checkpoint();
            log.Append(TxnLogTests.Batch(201, 3));
            log.CloseLikeACrash();
        }

        // The emptied file keeps its old pages (no zeros written) but none verifies under its new generation.
        Assert.Equal(1u, WalFile.GenerationOf(File.ReadAllBytes(first)));
        Assert.False(File.ReadAllBytes(first).AsSpan((int)WalFile.SlotOffset(0), WalFile.SlotSize).ContainsAnyExcept((byte)0), "the emptied file's first slot should be blank");
        Assert.True(File.ReadAllBytes(first).AsSpan((int)WalFile.SlotOffset(1)).ContainsAnyExcept((byte)0), "the emptied file's old pages should still be there, unwritten");
        Assert.Equal(0, VerifyingSlotsFrom(first, 0));
        Assert.True(LogicalEnd(second) > 0, "the commit after the checkpoint should be in the second file");
        using (var reopened = TxnLog.Open(_dir.Path))
        {
            StorageAssert.SameTxns(TxnLogTests.Batch(1, 203), [.. reopened.ReadFrom(default)]);
            reopened.Checkpoint();
            reopened.Append(TxnLogTests.Batch(204, 2));
            reopened.CloseLikeACrash();
        }

        Assert.Equal(0, VerifyingSlotsFrom(second, 0));
        Assert.True(LogicalEnd(first) > 0, "the log should be back in the first file");
        using var again = TxnLog.Open(_dir.Path);
        StorageAssert.SameTxns(TxnLogTests.Batch(1, 205), [.. again.ReadFrom(default)]);
    }

    [Fact]
    public void Old_pages_left_behind_a_blank_first_page_by_a_crash_are_never_read_and_fail_their_check_once_the_file_is_reused()
    {
        // A crash between "first page zeroed and synced" and the new generation's sync leaves the emptied file with
        // old confirmed pages behind a blank first page, while the log goes on in the other file.
        var first = _dir.File(TxnLog.WalFileName);
        var second = WalFile.SecondPath(first);
        using (var log = TxnLog.Open(_dir.Path))
        {
            log.Append(TxnLogTests.Batch(1, 100));
            log.CloseLikeACrash();
        }

        var old = File.ReadAllBytes(first);
        using (var log = TxnLog.Open(_dir.Path))
        {
            log.Checkpoint();
            log.Append(TxnLogTests.Batch(101, 10));
            Assert.Equal(second, log.WalPath);
            log.CloseLikeACrash();
        }

        Overwrite(first, WalFile.SlotOffset(1), old.AsSpan((int)WalFile.SlotOffset(1)));

        using (var reopened = TxnLog.Open(_dir.Path))
        {
            Assert.Equal(second, reopened.WalPath);
            Assert.Equal(new Zxid(110), reopened.LastZxid);
            reopened.Checkpoint();
            reopened.Append(TxnLogTests.Batch(111, 10));
            Assert.Equal(first, reopened.WalPath);
            reopened.CloseLikeACrash();
        }

        // The first file holds the last commit; the old pages behind it are of an earlier generation and fail.
        var end = LogicalEnd(first);
        Assert.True(end > 0, "the last commit should be in the first file");
        Assert.True(File.ReadAllBytes(first).AsSpan((int)Physical(end)).ContainsAnyExcept((byte)0), "the old pages should still be behind the last commit");
        Assert.Equal(0, VerifyingSlotsFrom(first, end));
        using var again = TxnLog.Open(_dir.Path);
        StorageAssert.SameTxns(TxnLogTests.Batch(1, 120), [.. again.ReadFrom(default)]);
    }

    [Fact]
    public void Log_pages_in_both_files_stop_the_open_with_both_names()
    {
        var first = _dir.File(TxnLog.WalFileName);
        using (var log = TxnLog.Open(_dir.Path))
        {
            log.Append(TxnLogTests.Batch(1, 5));
            log.CloseLikeACrash();
        }

        File.Copy(first, WalFile.SecondPath(first), overwrite: true);
        var e = Assert.Throws<InvalidDataException>(() => TxnLog.Open(_dir.Path));
        Assert.Contains(first, e.Message);
        Assert.Contains(WalFile.SecondPath(first), e.Message);
    }

    [Fact]
    public void Pages_that_reached_the_disk_after_a_missing_one_are_dropped_and_zeroed_at_open()
    {
        var path = _dir.File(TxnLog.WalFileName);
        using (var log = TxnLog.Open(_dir.Path))
        {
            log.Append(TxnLogTests.Batch(1, 100));
            log.CloseLikeACrash();
        }

        var end = LogicalEnd(path);
        using (var log = TxnLog.Open(_dir.Path))
        {
            log.Append(TxnLogTests.Batch(101, 50));
            log.CloseLikeACrash();
        }

        // Writeback persisted the second commit's later pages but not its first one.
        var afterCrash = LogicalEnd(path);
        Assert.True(afterCrash > end + WalFile.PageSize, $"the second commit should span pages: {end} → {afterCrash}");
        ZeroPage(path, end);

        using (var reopened = TxnLog.Open(_dir.Path))
        {
            Assert.Equal(new Zxid(100), reopened.LastZxid);
            reopened.CloseLikeACrash();
        }

        Assert.False(File.ReadAllBytes(path).AsSpan((int)Physical(end)).ContainsAnyExcept((byte)0), "the stray pages past the end should have been zeroed");
        using var again = TxnLog.Open(_dir.Path);
        again.Append(TxnLogTests.Batch(101, 2));
        StorageAssert.SameTxns(TxnLogTests.Batch(1, 102), [.. again.ReadFrom(default)]);
    }

    [Fact]
    public void A_page_of_an_unsynced_commit_torn_by_a_power_loss_ends_the_log_and_every_acknowledged_commit_is_there()
    {
        var path = _dir.File(TxnLog.WalFileName);
        var acknowledged = AcknowledgedThenUnsynced();
        Assert.True(LogicalEnd(path) > acknowledged + WalFile.PageSize, "the unsynced commit should span pages");

        // Power failed during writeback: one 4 KiB half of the commit's first page reached the disk, the other did not.
        // That page is a new version of one that holds acknowledged entries too (LiteDB rewrites whole pages), and its
        // commit's confirming page did reach the disk, so without checksums LiteDB takes the torn page as the newest.
        Overwrite(path, Physical(acknowledged) + 4096, new byte[WalFile.PageSize - 4096]);
        using (var reopened = TxnLog.Open(_dir.Path))
        {
            Assert.Equal(new Zxid(800), reopened.LastZxid);
            StorageAssert.SameTxns(TxnLogTests.Batch(1, 800), [.. reopened.ReadFrom(default)]);
            reopened.Append(TxnLogTests.Batch(801, 1));
            reopened.CloseLikeACrash();
        }

        using var again = TxnLog.Open(_dir.Path);
        StorageAssert.SameTxns(TxnLogTests.Batch(1, 801), [.. again.ReadFrom(default)]);
    }

    [Fact]
    public void Whatever_sectors_of_an_unsynced_commit_reach_the_disk_the_acknowledged_commits_are_all_there()
    {
        // A power loss during writeback persists some 512-byte sectors of the pages written since the last sync and
        // not others. Each trial keeps a random subset (seeded; ZK_SEED replays) of the unsynced commit's sectors.
        var seed = Seed();
        var random = new Random(seed);
        var path = _dir.File(TxnLog.WalFileName);
        var acknowledged = Physical(AcknowledgedThenUnsynced());
        var written = File.ReadAllBytes(path);
        var unsyncedEnd = (int)Physical(LogicalEnd(path));
        var otherFile = File.ReadAllBytes(WalFile.SecondPath(path));
        var dataFile = File.ReadAllBytes(_dir.File(TxnLog.DataFileName));
        for (var trial = 0; trial < 12; trial++)
        {
            var image = (byte[])written.Clone();
            var keep = trial switch { 0 => 0.0, 1 => 1.0, _ => random.NextDouble() };
            for (var sector = (int)acknowledged; sector < unsyncedEnd; sector += 512)
            {
                if (random.NextDouble() >= keep)
                {
                    Array.Clear(image, sector, Math.Min(512, unsyncedEnd - sector));
                }
            }

            File.WriteAllBytes(path, image);
            File.WriteAllBytes(WalFile.SecondPath(path), otherFile);
            File.WriteAllBytes(_dir.File(TxnLog.DataFileName), dataFile);
            using var reopened = TxnLog.Open(_dir.Path);
            var read = reopened.ReadFrom(default).ToList();
            Assert.True(
                read.Count is 800 or 840,
                $"seed={seed} trial={trial} (set ZK_SEED to replay): expected the 800 acknowledged txns, or 840 when the whole unsynced commit survived; read {read.Count}");
            Seeded(seed, trial, () => StorageAssert.SameTxns(TxnLogTests.Batch(1, read.Count), read));
            reopened.CloseLikeACrash();
        }
    }

    [Fact]
    public void Whatever_sectors_of_a_checkpoint_reach_the_data_file_before_the_wal_is_emptied_every_commit_is_there()
    {
        // A checkpoint copies the WAL's pages into the data file in place, syncs the data file, and only then empties
        // the WAL. A power loss before the WAL is emptied leaves any mix of the data file's old and new sectors
        // (seeded; ZK_SEED replays), with the whole WAL still there to replay over it.
        var seed = Seed();
        var random = new Random(seed);
        var dataPath = _dir.File(TxnLog.DataFileName);
        var walPaths = new[] { _dir.File(TxnLog.WalFileName), WalFile.SecondPath(_dir.File(TxnLog.WalFileName)) };
        using (var log = TxnLog.Open(_dir.Path))
        {
            log.Append(TxnLogTests.Batch(1, 300));
            log.Checkpoint(); // the data file has pages of its own to be overwritten in place
            AppendCommits(log, 301, 20);

            log.CloseLikeACrash();
        }

        var dataBefore = File.ReadAllBytes(dataPath);
        var walsBefore = walPaths.Select(File.ReadAllBytes).ToArray();
        using (var log = TxnLog.Open(_dir.Path))
        {
            log.Checkpoint();
            log.CloseLikeACrash();
        }

        var dataAfter = File.ReadAllBytes(dataPath);
        for (var trial = 0; trial < 12; trial++)
        {
            var image = new byte[Math.Max(dataBefore.Length, dataAfter.Length)];
            dataBefore.CopyTo(image, 0);
            var keep = trial switch { 0 => 0.0, 1 => 1.0, _ => random.NextDouble() };
            for (var sector = 0; sector < dataAfter.Length; sector += 512)
            {
                if (random.NextDouble() < keep)
                {
                    Array.Copy(dataAfter, sector, image, sector, Math.Min(512, dataAfter.Length - sector));
                }
            }

            File.WriteAllBytes(dataPath, image);
            for (var i = 0; i < walPaths.Length; i++)
            {
                File.WriteAllBytes(walPaths[i], walsBefore[i]);
            }

            using var reopened = TxnLog.Open(_dir.Path);
            var read = reopened.ReadFrom(default).ToList();
            Assert.True(read.Count == 1100, $"seed={seed} trial={trial} keep={keep:F2} (set ZK_SEED to replay): expected all 1,100 txns, read {read.Count}");
            Seeded(seed, trial, () => StorageAssert.SameTxns(TxnLogTests.Batch(1, 1100), read));
            reopened.CloseLikeACrash();
        }
    }

    [Fact]
    public void A_wal_from_before_page_checksums_is_refused_when_it_holds_pages_and_taken_over_when_blank()
    {
        var path = _dir.File(TxnLog.WalFileName);
        var oldPage = new byte[WalFile.PageSize];
        oldPage[4] = 3; // a LiteDB page where the header would be
        File.WriteAllBytes(path, oldPage);
        var e = Assert.Throws<InvalidDataException>(() => TxnLog.Open(_dir.Path));
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.Contains("stop it cleanly", e.Message, StringComparison.Ordinal);

        // An emptied log of that format: a blank first page, and an old page behind it that a crash left.
        var emptied = new byte[3 * WalFile.PageSize];
        Array.Fill(emptied, (byte)0x5a, WalFile.PageSize, WalFile.PageSize);
        File.WriteAllBytes(path, emptied);
        using (var log = TxnLog.Open(_dir.Path))
        {
            log.Append(TxnLogTests.Batch(1, 5));
            log.CloseLikeACrash();
        }

        using var reopened = TxnLog.Open(_dir.Path);
        StorageAssert.SameTxns(TxnLogTests.Batch(1, 5), [.. reopened.ReadFrom(default)]);
    }

    [Fact]
    public void A_wal_without_preallocation_still_opens()
    {
        // Logs written before preallocation (or on a file system that lost the zeros) end at the file's end.
        using (var log = TxnLog.Open(_dir.Path))
        {
            log.Append(TxnLogTests.Batch(1, 20));
            log.CloseLikeACrash();
        }

        var path = _dir.File(TxnLog.WalFileName);
        var end = LogicalEnd(path);
        using (var file = new FileStream(path, FileMode.Open, FileAccess.Write))
        {
            file.SetLength(Physical(end));
        }

        using var reopened = TxnLog.Open(_dir.Path);
        Assert.Equal(new Zxid(20), reopened.LastZxid);
        reopened.Append(TxnLogTests.Batch(21, 1));
        StorageAssert.SameTxns(TxnLogTests.Batch(1, 21), [.. reopened.ReadFrom(default)]);
    }
}
