using Xunit.Abstractions;
using Zk.Embedded.Api;
using Zk.Embedded.Txns;
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
    public void A_recovered_trees_larger_data_is_on_the_pinned_heap_which_collections_never_copy()
    {
        byte[] Value(byte fill, int length) => Enumerable.Repeat(fill, length).ToArray();
        var session = new SessionId(7);
        using (var log = TxnLog.Open(LogDir))
        {
            log.Append([new Txn(new Zxid(1), session, 0, new CreateTxn("/snap", Value(1, 1024), AclList.Open, 0, 1))]);
            SnapshotFile.Write(SnapDir, TxnApplier.Apply(TreeState.CreateInitial(), log.ReadFrom(default).Single(), null));
            log.Append([
                new Txn(new Zxid(2), session, 0, new CreateTxn("/log", Value(2, 1024), AclList.Open, 0, 2)),
                new Txn(new Zxid(3), session, 0, new CreateTxn("/small", Value(3, TxnCodec.PinnedDataBytes - 1), AclList.Open, 0, 3)),
                new Txn(new Zxid(4), session, 0, new SetDataTxn("/snap", Value(4, TxnCodec.PinnedDataBytes), 1)),
            ]);
        }

        using var reopened = TxnLog.Open(LogDir);
        var state = Recovery.Recover(SnapDir, reopened, new AclCache()).State;

        // Generation 2 at once is the pinned heap's (a new array on the ordinary heap is gen0 until collections promote
        // it); each value still reads back as written.
        foreach (var (path, fill, length) in new[] { ("/log", 2, 1024), ("/snap", 4, TxnCodec.PinnedDataBytes) })
        {
            var data = state.Find(path)!.Data!;
            Assert.Equal(Value((byte)fill, length), data);
            Assert.True(GC.GetGeneration(data) == GC.MaxGeneration, $"expected {path}'s {length} bytes on the pinned heap (generation {GC.MaxGeneration}), found generation {GC.GetGeneration(data)}");
        }

        Assert.Equal(Value(3, TxnCodec.PinnedDataBytes - 1), state.Find("/small")!.Data);
        var loaded = SnapshotFile.Read(SnapshotFile.List(SnapDir)[0].Path).Find("/snap")!.Data!;
        Assert.Equal(Value(1, 1024), loaded);
        Assert.True(GC.GetGeneration(loaded) == GC.MaxGeneration, $"expected a loaded snapshot's 1 KiB data on the pinned heap, found generation {GC.GetGeneration(loaded)}");
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
    public void A_log_purged_under_a_snapshot_that_is_gone_stops_recovery_at_the_gap()
    {
        // Autopurge removed the txns the only snapshot holds, then the snapshot went bad: the empty tree would need
        // them. The rest are creates under the root, which apply to the empty tree without complaint, so without a
        // check the peer would start without the first hundred znodes, acknowledged writes all of them.
        var state = TreeState.CreateInitial();
        using var log = TxnLog.Open(LogDir);
        string? snapshot = null;
        for (var i = 1; i <= 200; i++)
        {
            var txn = new Txn(new Zxid(i), new SessionId(0), Time: i, new CreateTxn($"/n{i}", [(byte)i], AclList.Open, EphemeralOwner: 0, ParentCreateCount: state.Root.CreateCount + 1));
            log.Append([txn]);
            state = TxnApplier.Apply(state, txn, triggers: null);
            if (i == 100)
            {
                snapshot = SnapshotFile.Write(SnapDir, state);
            }
        }

        log.PurgeThrough(new Zxid(100));
        var bytes = File.ReadAllBytes(snapshot!);
        bytes[bytes.Length / 2] ^= 0x40;
        File.WriteAllBytes(snapshot!, bytes);

        var result = Recovery.Recover(SnapDir, log);
        Assert.Null(result.SnapshotPath);
        Assert.Equal(0, result.Replayed);
        var gap = result.LogCorruption;
        Assert.True(gap is { Kind: CorruptionKind.Gap }, $"expected a Gap at zxid 0x65, got {gap?.Message ?? "no corruption, " + result.Replayed + " txns replayed"}");
        Assert.Equal(new Zxid(101), gap!.Zxid);
        Assert.Contains("no valid snapshot", gap.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0x5L, 0x6L, true)]
    [InlineData(0x1_0000_0007L, 0x1_0000_0008L, true)]
    [InlineData(0x1_0000_0007L, 0x2_0000_0001L, true)] // a new epoch starts its counter at 1
    [InlineData(0x1_0000_0007L, 0x3_0000_0001L, true)]
    [InlineData(0x5L, 0x7L, false)]
    [InlineData(0x1_0000_0007L, 0x2_0000_0002L, false)]
    [InlineData(0x2_0000_0001L, 0x1_0000_0002L, false)]
    [InlineData(0x5L, 0x5L, false)]
    public void Within_an_epoch_each_zxid_follows_the_one_before(long previous, long next, bool follows) =>
        Assert.Equal(follows, TxnSequence.Follows(new Zxid(previous), new Zxid(next)));

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
    public void A_snapshot_many_read_buffers_long_with_a_value_larger_than_a_buffer_round_trips()
    {
        // Reading streams the body through a 1 MiB buffer with 64 KiB of lookahead: 4,000 nodes of 1 KiB span several
        // refills, a 3 MiB value outgrows the buffer, and deep ephemerals need their paths rebuilt for the indexes.
        var random = new Random(Seed());
        var state = TreeState.CreateInitial();
        var zxid = 0L;
        TreeState Create(string path, byte[]? data, long owner = 0)
        {
            var parent = state.Find(path.AsSpan(0, Math.Max(1, path.LastIndexOf('/'))))!;
            state = TxnApplier.Apply(state, new Txn(new Zxid(++zxid), new SessionId(owner > 0 ? owner : 0), zxid, new CreateTxn(path, data, AclList.Open, owner, parent.CreateCount + 1)), triggers: null);
            return state;
        }

        state = TxnApplier.Apply(state, new Txn(new Zxid(++zxid), new SessionId(0x77), zxid, new CreateSessionTxn(30_000)), triggers: null);
        for (var p = 0; p < 4; p++)
        {
            Create($"/p{p}", null);
            Create($"/p{p}/deep", null);
            Create($"/p{p}/deep/er", []);
            Create($"/p{p}/deep/er/eph", [1, 2, 3], owner: 0x77);
            for (var i = 0; i < 1000; i++)
            {
                var value = new byte[1024];
                random.NextBytes(value);
                Create($"/p{p}/n{i:D4}", value);
            }
        }

        var big = new byte[3 << 20];
        random.NextBytes(big);
        Create("/p2/big", big);
        Create("/p2/big/child", [9]);

        var path = SnapshotFile.Write(SnapDir, state);
        Assert.True(new FileInfo(path).Length > 7 << 20);
        var loaded = SnapshotFile.Read(path);
        StorageAssert.SameState(state, loaded);
        Assert.Equal(["/p0/deep/er/eph", "/p1/deep/er/eph", "/p2/deep/er/eph", "/p3/deep/er/eph"], loaded.Ephemerals[new SessionId(0x77)].Order(StringComparer.Ordinal));
    }

    [Fact]
    public void A_damaged_byte_anywhere_in_a_snapshot_is_a_checksum_mismatch_even_where_it_breaks_decoding()
    {
        // The body is decoded before its checksum is known; a decode error must still be reported as the damage it is.
        var txns = new RandomTxns(Seed());
        for (var i = 0; i < 500; i++)
        {
            txns.Next();
        }

        var path = SnapshotFile.Write(SnapDir, txns.State);
        var original = File.ReadAllBytes(path);
        foreach (var offset in new[] { 0, 1, 5, 22, 30, 40, original.Length / 3, original.Length / 2, original.Length - 9 })
        {
            var bytes = (byte[])original.Clone();
            bytes[offset] ^= 0x5A;
            File.WriteAllBytes(path, bytes);
            var e = Assert.Throws<StorageCorruptionException>(() => SnapshotFile.Read(path));
            Assert.True(e.Kind == CorruptionKind.ChecksumMismatch, $"byte {offset}: {e.Kind} ({e.Message})");
        }
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
