using Xunit.Abstractions;
using Zk.Embedded.Processing;
using Zk.Embedded.Storage;
using Zk.Embedded.Tree;

namespace Zk.Embedded.Tests.Storage;

/// <summary>
/// Snapshots and recovery against states built from random valid txns. Replay a failure with ZK_SEED set to the
/// printed seed.
/// </summary>
public sealed class RecoveryTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private string SnapDir => _dir.File("snap");

    private string LogDir => _dir.File("log");

    private int Seed()
    {
        var fromEnv = Environment.GetEnvironmentVariable("ZK_SEED");
        var seed = fromEnv is null ? Random.Shared.Next() : int.Parse(fromEnv, System.Globalization.CultureInfo.InvariantCulture);
        output.WriteLine($"seed={seed} (set ZK_SEED to replay)");
        return seed;
    }

    [Fact]
    public void The_initial_tree_survives_a_snapshot_round_trip()
    {
        var initial = TreeState.CreateInitial();
        var loaded = SnapshotFile.Read(SnapshotFile.Write(SnapDir, initial));
        StorageAssert.SameState(initial, loaded);
        Assert.Equal(-1, loaded.Find("/zookeeper/config")!.Aversion);
    }

    [Fact]
    public void A_random_state_survives_a_snapshot_round_trip_with_its_indexes_and_interned_acls()
    {
        var txns = new RandomTxns(Seed());
        for (var i = 0; i < 2000; i++)
        {
            txns.Next();
        }

        var path = SnapshotFile.Write(SnapDir, txns.State);
        Assert.Equal(SnapshotFile.NameFor(txns.State.Zxid), Path.GetFileName(path));
        var loaded = SnapshotFile.Read(path, new AclCache());
        StorageAssert.SameState(txns.State, loaded);
        output.WriteLine($"nodes={loaded.NodeCount} sessions={loaded.Sessions.Count} bytes={new FileInfo(path).Length}");
        Assert.Empty(Directory.GetFiles(SnapDir, "*.tmp"));
    }

    [Fact]
    public void Recovery_is_the_newest_snapshot_plus_the_log_after_it()
    {
        var txns = new RandomTxns(Seed());
        var random = new Random(txns.GetHashCode());
        string? newest = null;
        var afterNewest = 0;
        using (var log = TxnLog.Open(LogDir))
        {
            for (var round = 0; round < 60; round++)
            {
                var batch = new List<Txn>();
                for (var n = random.Next(1, 40); n > 0; n--)
                {
                    batch.Add(txns.Next());
                }

                log.Append(batch);
                afterNewest += batch.Count;
                if (round is 20 or 40)
                {
                    newest = SnapshotFile.Write(SnapDir, txns.State);
                    afterNewest = 0;
                }
            }
        }

        using var reopened = TxnLog.Open(LogDir);
        var result = Recovery.Recover(SnapDir, reopened, new AclCache());
        Assert.Equal(newest, result.SnapshotPath);
        Assert.Equal(afterNewest, result.Replayed);
        Assert.Null(result.LogCorruption);
        Assert.Empty(result.SkippedSnapshots);
        StorageAssert.SameState(txns.State, result.State);
    }

    [Fact]
    public void Recovery_without_snapshots_replays_the_whole_log()
    {
        var txns = new RandomTxns(Seed());
        using (var log = TxnLog.Open(LogDir))
        {
            for (var i = 0; i < 20; i++)
            {
                log.Append([txns.Next(), txns.Next(), txns.Next()]);
            }
        }

        using var reopened = TxnLog.Open(LogDir);
        var result = Recovery.Recover(SnapDir, reopened);
        Assert.Null(result.SnapshotPath);
        Assert.Equal(60, result.Replayed);
        StorageAssert.SameState(txns.State, result.State);
    }

    [Fact]
    public void A_corrupt_newest_snapshot_is_skipped_and_named_and_the_older_one_used()
    {
        var txns = new RandomTxns(Seed());
        using var log = TxnLog.Open(LogDir);
        for (var i = 0; i < 300; i++)
        {
            log.Append([txns.Next()]);
            if (i == 100)
            {
                SnapshotFile.Write(SnapDir, txns.State);
            }
        }

        var older = SnapshotFile.List(SnapDir)[0].Path;
        var newest = SnapshotFile.Write(SnapDir, txns.State);
        var bytes = File.ReadAllBytes(newest);
        bytes[bytes.Length / 2] ^= 0x40;
        File.WriteAllBytes(newest, bytes);

        var result = Recovery.Recover(SnapDir, log);
        Assert.Equal(older, result.SnapshotPath);
        var skipped = Assert.Single(result.SkippedSnapshots);
        Assert.Equal(CorruptionKind.ChecksumMismatch, skipped.Kind);
        Assert.Contains(Path.GetFileName(newest), skipped.Message, StringComparison.Ordinal);
        StorageAssert.SameState(txns.State, result.State);
    }

    [Fact]
    public void A_torn_snapshot_is_reported_as_truncated()
    {
        var path = SnapshotFile.Write(SnapDir, TreeState.CreateInitial());
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^3]);
        var e = Assert.Throws<StorageCorruptionException>(() => SnapshotFile.Read(path));
        Assert.Equal(CorruptionKind.Truncated, e.Kind);
    }

    [Fact]
    public void A_corrupt_log_record_stops_recovery_just_before_it_and_is_reported()
    {
        var txns = new RandomTxns(Seed());
        var states = new List<TreeState>();
        using (var log = TxnLog.Open(LogDir))
        {
            for (var i = 0; i < 50; i++)
            {
                log.Append([txns.Next()]);
                states.Add(txns.State);
            }
        }

        var badZxid = states[30].Zxid;
        TxnLogTests.CorruptRecord(_dir.Sub("log"), badZxid, byteIndex: 6);

        using var reopened = TxnLog.Open(LogDir);
        var result = Recovery.Recover(SnapDir, reopened);
        Assert.NotNull(result.LogCorruption);
        Assert.Equal(badZxid, result.LogCorruption!.Zxid);
        Assert.Equal(30, result.Replayed);
        StorageAssert.SameState(states[29], result.State);
    }
}
