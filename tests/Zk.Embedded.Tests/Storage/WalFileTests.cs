using Zk.Embedded.Storage;

namespace Zk.Embedded.Tests.Storage;

/// <summary>The preallocated WAL: its end is found again from the blank pages, whatever a crash left.</summary>
public sealed class WalFileTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>The offset of the first all-zero page of a WAL file: where LiteDB's log ends.</summary>
    internal static long LogicalEnd(string path)
    {
        var bytes = File.ReadAllBytes(path);
        for (var offset = 0; offset < bytes.Length; offset += WalFile.PageSize)
        {
            if (!bytes.AsSpan(offset, Math.Min(WalFile.PageSize, bytes.Length - offset)).ContainsAnyExcept((byte)0))
            {
                return offset;
            }
        }

        return bytes.Length;
    }

    internal static void ZeroPage(string path, long offset)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Write);
        file.Position = offset;
        file.Write(new byte[WalFile.PageSize]);
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
        Assert.True(end > 0 && physical > end, $"expected zeros preallocated past the log's end: end {end}, file {physical} bytes");
        using (var reopened = TxnLog.Open(_dir.Path))
        {
            Assert.Equal(11, reopened.LastZxid);
            reopened.Append(TxnLogTests.Batch(12, 5));
            StorageAssert.SameTxns(TxnLogTests.Batch(1, 16), [.. reopened.ReadFrom(0)]);
            reopened.CloseLikeACrash();
        }

        Assert.True(LogicalEnd(path) > end, "the next commit should continue at the end found, not after the zeros");
        Assert.Equal(physical, new FileInfo(path).Length);
    }

    [Fact]
    public void Emptying_after_a_checkpoint_zeroes_the_old_pages_and_keeps_the_file()
    {
        var path = _dir.File(TxnLog.WalFileName);
        long physical;
        using (var log = TxnLog.Open(_dir.Path))
        {
            log.Append(TxnLogTests.Batch(1, 200));
            physical = new FileInfo(path).Length;
            log.Checkpoint();
            Assert.Equal(physical, new FileInfo(path).Length);
            log.CloseLikeACrash();
        }

        Assert.Equal(0, LogicalEnd(path));
        Assert.False(File.ReadAllBytes(path).AsSpan().ContainsAnyExcept((byte)0), "every old WAL page should be zero after the checkpoint");
        using var reopened = TxnLog.Open(_dir.Path);
        reopened.Append(TxnLogTests.Batch(201, 3));
        StorageAssert.SameTxns(TxnLogTests.Batch(1, 203), [.. reopened.ReadFrom(0)]);
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
            Assert.Equal(100, reopened.LastZxid);
            reopened.CloseLikeACrash();
        }

        Assert.False(File.ReadAllBytes(path).AsSpan((int)end).ContainsAnyExcept((byte)0), "the stray pages past the end should have been zeroed");
        using var again = TxnLog.Open(_dir.Path);
        again.Append(TxnLogTests.Batch(101, 2));
        StorageAssert.SameTxns(TxnLogTests.Batch(1, 102), [.. again.ReadFrom(0)]);
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
            file.SetLength(end);
        }

        using var reopened = TxnLog.Open(_dir.Path);
        Assert.Equal(20, reopened.LastZxid);
        reopened.Append(TxnLogTests.Batch(21, 1));
        StorageAssert.SameTxns(TxnLogTests.Batch(1, 21), [.. reopened.ReadFrom(0)]);
    }
}
