using Zk.Embedded.Api;
using Zk.Embedded.Storage;

namespace Zk.Embedded.Tests.Storage;

/// <summary>
/// Damage at several places of each storage file: either a clean cut of only the unacknowledged tail, or a stop
/// naming the file and offset or zxid, with the files left as they were (never acknowledged writes silently lost).
/// </summary>
public sealed class StorageDamageTests : IDisposable
{
    /// <summary>32 bytes that are neither zeros nor anything LiteDB or our checksums could mistake for data.</summary>
    private static readonly byte[] Garbage = [.. Enumerable.Range(0, 32).Select(i => (byte)(0xA5 ^ (i * 37)))];

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private string Wal => _dir.File(TxnLog.WalFileName);

    /// <summary>Every file of the log directory, byte for byte (to check that a refused start changed nothing).</summary>
    private Dictionary<string, byte[]> Files() =>
        Directory.GetFiles(_dir.Path).ToDictionary(f => f, File.ReadAllBytes);

    private void AssertUnchanged(Dictionary<string, byte[]> before)
    {
        foreach (var (path, bytes) in before)
        {
            Assert.True(bytes.AsSpan().SequenceEqual(File.ReadAllBytes(path)), $"{path} was changed by a start that was refused");
        }
    }

    /// <summary>200 acknowledged commits of 5 txns each, all still in the WAL (no checkpoint), closed like a crash.</summary>
    private void AcknowledgedCommitsInTheWal()
    {
        using var log = TxnLog.Open(_dir.Path);
        for (var commit = 0; commit < 200; commit++)
        {
            log.Append(TxnLogTests.Batch(1 + (commit * 5), 5));
        }

        log.CloseLikeACrash();
    }

    [Fact]
    public void Garbage_in_the_middle_of_the_WAL_stops_the_open_naming_the_file_and_offset_and_changes_nothing()
    {
        AcknowledgedCommitsInTheWal();
        var pages = WalFileTests.LogicalEnd(Wal) / WalFile.PageSize;
        var slot = WalFile.SlotOffset(pages / 2);
        WalFileTests.Overwrite(Wal, slot + 1000, Garbage);
        var before = Files();

        var e = Assert.Throws<StorageCorruptionException>(() => TxnLog.Open(_dir.Path));
        Assert.Contains(Wal, e.Message, StringComparison.Ordinal);
        Assert.Contains($"offset {slot}", e.Message, StringComparison.Ordinal);
        AssertUnchanged(before);
    }

    [Fact]
    public void Garbage_in_the_last_commit_of_the_WAL_cuts_that_commit_only()
    {
        using (var log = TxnLog.Open(_dir.Path))
        {
            log.Append(TxnLogTests.Batch(1, 40));
            log.Append(TxnLogTests.Batch(41, 40));
            log.CloseLikeACrash();
        }

        var acknowledged = WalFileTests.LogicalEnd(Wal);
        using (var log = TxnLog.Open(_dir.Path))
        {
            log.Write(TxnLogTests.Batch(81, 40)); // never synced: the commit a power cut can tear
            log.CloseLikeACrash();
        }

        var end = WalFileTests.LogicalEnd(Wal);
        WalFileTests.Overwrite(Wal, WalFileTests.Physical(acknowledged + ((end - acknowledged) / WalFile.PageSize / 2 * WalFile.PageSize)) + 500, Garbage);
        using var reopened = TxnLog.Open(_dir.Path);
        StorageAssert.SameTxns(TxnLogTests.Batch(1, 80), [.. reopened.ReadFrom(default)]);
    }

    [Fact]
    public void A_WAL_whose_header_is_damaged_is_refused_as_damaged_not_as_an_older_format()
    {
        AcknowledgedCommitsInTheWal();
        WalFileTests.Overwrite(Wal, 0, Garbage);
        var before = Files();

        var e = Assert.Throws<StorageCorruptionException>(() => TxnLog.Open(_dir.Path));
        Assert.Contains("header at offset 0 is damaged", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("previous build", e.Message, StringComparison.Ordinal);
        AssertUnchanged(before);
    }

    /// <summary>A peer with 300 znodes, stopped cleanly (its log checkpointed into the data file); returns its state.</summary>
    private static async Task<Tree.TreeState> StoppedPeerAsync(ZkPeerOptions options)
    {
        await using var peer = await ZkPeer.StartAsync(options);
        await using (var zk = await peer.ConnectAsync())
        {
            for (var i = 0; i < 300; i++)
            {
                await zk.CreateAsync($"/n{i}", new byte[100 + i], Acl.OpenUnsafe, CreateMode.Persistent);
            }
        }

        await peer.DurableStorage!.SnapshotInFlight;
        return peer.Core.Pipeline.State;
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.25)]
    [InlineData(0.5)]
    [InlineData(0.75)]
    [InlineData(0.95)]
    public async Task Garbage_in_the_data_file_either_leaves_every_write_or_stops_the_start_naming_the_file(double where)
    {
        var options = new ZkPeerOptions { DataDir = _dir.Path };
        var expected = await StoppedPeerAsync(options);
        var data = _dir.File(TxnLog.DataFileName);
        var bytes = File.ReadAllBytes(data);
        var written = bytes.AsSpan().LastIndexOfAnyExcept((byte)0);
        WalFileTests.Overwrite(data, (long)(written * where), Garbage);

        try
        {
            await using var peer = await ZkPeer.StartAsync(options);
            StorageAssert.SameState(expected, peer.Core.Pipeline.State);
        }
        catch (IOException e)
        {
            Assert.Contains(data, e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_damaged_newest_snapshot_is_skipped_and_every_write_is_recovered_from_the_log()
    {
        var options = new ZkPeerOptions { DataDir = _dir.Path, SnapCount = 50 };
        var expected = await StoppedPeerAsync(options);
        var newest = SnapshotFile.List(_dir.Path)[0].Path;
        WalFileTests.Overwrite(newest, new FileInfo(newest).Length / 2, Garbage);

        await using var peer = await ZkPeer.StartAsync(options);
        StorageAssert.SameState(expected, peer.Core.Pipeline.State);
    }

    /// <summary>Runs <c>zk start</c> on the damaged dataDir: it must exit 2 with a <c>zk:</c> line naming <paramref name="named"/>, no stack trace.</summary>
    private string StartProgramExpectingRefusal(string named)
    {
        var config = _dir.File("zoo.cfg");
        File.WriteAllText(config, $"dataDir={_dir.Path}\nclientPort=0\n");
        using var zk = ZkChildProcess.Start(config, _dir.Path);
        var code = zk.WaitForExit(TimeSpan.FromSeconds(60));
        var output = zk.RecentOutput;
        Assert.True(code == 2, $"expected exit code 2, got {code}:\n{output}");
        Assert.Contains("zk: ", output, StringComparison.Ordinal);
        Assert.Contains(named, output, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
        Assert.Contains("backup", output, StringComparison.Ordinal);
        return output;
    }

    [Theory]
    [InlineData(32)]
    [InlineData(40)]
    [InlineData(8192)]
    public async Task Zk_start_on_a_data_file_with_garbage_says_which_file_and_what_to_do_and_exits_2(int offset)
    {
        await StoppedPeerAsync(new ZkPeerOptions { DataDir = _dir.Path });
        WalFileTests.Overwrite(_dir.File(TxnLog.DataFileName), offset, Garbage);
        StartProgramExpectingRefusal(TxnLog.DataFileName);
    }

    [Fact]
    public void Zk_start_on_a_WAL_damaged_in_the_middle_names_the_file_and_offset_and_exits_2()
    {
        AcknowledgedCommitsInTheWal();
        var slot = WalFile.SlotOffset(WalFileTests.LogicalEnd(Wal) / WalFile.PageSize / 2);
        WalFileTests.Overwrite(Wal, slot + 1000, Garbage);
        var output = StartProgramExpectingRefusal(TxnLog.WalFileName);
        Assert.Contains($"offset {slot}", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Zk_start_on_a_WAL_with_a_damaged_header_says_damaged_and_exits_2()
    {
        AcknowledgedCommitsInTheWal();
        WalFileTests.Overwrite(Wal, 0, Garbage);
        var output = StartProgramExpectingRefusal(TxnLog.WalFileName);
        Assert.DoesNotContain("before page checksums", output, StringComparison.Ordinal);
    }
}
