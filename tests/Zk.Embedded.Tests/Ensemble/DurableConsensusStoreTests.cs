using Zk.Embedded.Api;
using Zk.Embedded.Consensus;
using Zk.Embedded.Ensemble;
using Zk.Embedded.Storage;
using Zk.Embedded.Tests.Storage;
using Zk.Embedded.Txns;

namespace Zk.Embedded.Tests.Ensemble;

/// <summary>
/// <see cref="DurableConsensusStore"/> on real files: what survives a crash, TRUNC removing the tail and every newer
/// snapshot (ZOOKEEPER-1549), and the start checks of <c>QuorumPeer.loadDataBase</c>; <see cref="ConsensusLog"/>
/// holding the same <see cref="PersistChecks"/> rules.
/// </summary>
public sealed class DurableConsensusStoreTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private long _seq;

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void A_fresh_directory_starts_at_epoch_zero_and_writes_both_epoch_files()
    {
        using (var store = DurableConsensusStore.Open(_dir.Path))
            Assert.Equal(PersistedState.Empty with { Log = [] }, store.Load() with { Log = [] });
        Assert.Equal("0", File.ReadAllText(_dir.File(EpochFile.Accepted)));
        Assert.Equal("0", File.ReadAllText(_dir.File(EpochFile.Current)));
    }

    [Fact]
    public void After_a_crash_a_store_has_its_epochs_and_synced_txns_but_not_the_unsynced_ones()
    {
        var store = DurableConsensusStore.Open(_dir.Path);
        store.Write(new WriteAcceptedEpoch(++_seq, 1));
        store.Write(new WriteCurrentEpoch(++_seq, 1));
        Append(store, 1, 1, 2);
        store.Sync();
        Append(store, 1, 3); // written, never synced: not reported durable, so a crash may lose it
        store.CloseLikeACrash();

        using var reopened = DurableConsensusStore.Open(_dir.Path);
        var state = reopened.Load();
        Assert.Equal((1u, 1u), (state.AcceptedEpoch, state.CurrentEpoch));
        Assert.Equal([new Zxid(1, 1), new Zxid(1, 2)], state.Log.Select(t => t.Zxid));
        Assert.Equal(TxnFor(new Zxid(1, 2)).Data.ToArray(), state.Log[1].Data.ToArray());
    }

    [Fact]
    public void A_restart_loads_the_logged_txns_up_to_the_snapshot_as_history_and_none_when_a_SNAP_replaced_the_log()
    {
        using (var store = EpochOne())
        {
            Append(store, 1, 1, 2, 3, 4, 5, 6);
            store.Sync();
            store.SaveSnapshot(new ConsensusSnapshot(new Zxid(1, 4), new byte[] { 4 }));
        }

        using (var reopened = DurableConsensusStore.Open(_dir.Path))
        {
            var state = reopened.Load();
            Assert.Equal(new Zxid(1, 1), state.HistoryBase); // the oldest txn read is the base of the window
            Assert.Equal([new Zxid(1, 2), new Zxid(1, 3), new Zxid(1, 4)], state.History.Select(t => t.Zxid));
            Assert.Equal(TxnFor(new Zxid(1, 3)).Data.ToArray(), state.History[1].Data.ToArray());
            Assert.Equal([new Zxid(1, 5), new Zxid(1, 6)], state.Log.Select(t => t.Zxid));
            reopened.Write(new InstallSnapshot(++_seq, new ConsensusSnapshot(new Zxid(1, 9), new byte[] { 9 }), 1));
        }

        using var afterSnap = DurableConsensusStore.Open(_dir.Path);
        var installed = afterSnap.Load();
        Assert.Equal(new Zxid(1, 9), installed.SnapshotZxid);
        Assert.Empty(installed.History);
        Assert.Empty(installed.Log);
    }

    [Fact]
    public void TRUNC_removes_the_divergent_tail_and_every_snapshot_newer_than_its_point()
    {
        using (var store = EpochOne())
        {
            Append(store, 1, 1, 2, 3, 4, 5);
            store.Sync();
            store.SaveSnapshot(new ConsensusSnapshot(new Zxid(1, 2), new byte[] { 2 }));
            store.SaveSnapshot(new ConsensusSnapshot(new Zxid(1, 4), new byte[] { 4 }));
            store.Write(new TruncateAfter(++_seq, new Zxid(1, 3)));
            Assert.Equal(new Zxid(1, 3), store.Shape.LastZxid);
        }

        Assert.False(File.Exists(_dir.File(SnapshotFile.NameFor(new Zxid(1, 4)))), "expected the snapshot at (1,4), newer than the TRUNC point, to be deleted");
        using var reopened = DurableConsensusStore.Open(_dir.Path);
        var state = reopened.Load();
        Assert.Equal(new Zxid(1, 2), state.SnapshotZxid);
        Assert.Equal([new Zxid(1, 3)], state.Log.Select(t => t.Zxid));
        Assert.Equal(new byte[] { 2 }, SnapshotBody.BytesOf(reopened.Snapshot!).ToArray());
    }

    [Fact]
    public void A_SNAP_of_a_newer_epoch_replaces_log_and_snapshots_and_raises_currentEpoch_durably()
    {
        using (var store = EpochOne())
        {
            Append(store, 1, 1, 2, 3);
            store.Sync();
            store.SaveSnapshot(new ConsensusSnapshot(new Zxid(1, 2), new byte[] { 2 }));
            store.Write(new WriteAcceptedEpoch(++_seq, 2));
            store.Write(new InstallSnapshot(++_seq, new ConsensusSnapshot(new Zxid(2, 4), new byte[] { 9 }), 2));
            Append(store, 2, 5);
            store.Sync();
            store.CloseLikeACrash();
            Assert.Throws<ObjectDisposedException>(() => store.Write(new WriteAcceptedEpoch(++_seq, 3)));
        }

        using var reopened = DurableConsensusStore.Open(_dir.Path);
        var state = reopened.Load();
        Assert.Equal((2u, 2u, new Zxid(2, 4)), (state.AcceptedEpoch, state.CurrentEpoch, state.SnapshotZxid));
        Assert.Equal([new Zxid(2, 5)], state.Log.Select(t => t.Zxid));
        Assert.Equal([new Zxid(2, 4)], SnapshotFile.List(_dir.Path).Select(x => x.Zxid));
        Assert.Equal(new byte[] { 9 }, SnapshotBody.BytesOf(reopened.Snapshot!).ToArray());
        Assert.False(File.Exists(_dir.File(EpochFile.Updating)), "expected no updatingEpoch marker after a completed SNAP");
        Assert.Equal("2", File.ReadAllText(_dir.File(EpochFile.Accepted)));
    }

    [Fact]
    public void A_TRUNC_below_the_snapshot_the_log_starts_after_is_refused_and_changes_nothing()
    {
        using var store = EpochOne();
        store.Write(new InstallSnapshot(++_seq, new ConsensusSnapshot(new Zxid(1, 5), new byte[] { 5 }), 1));
        Append(store, 1, 6);
        var e = Assert.Throws<PersistInvariantException>(() => store.Write(new TruncateAfter(++_seq, new Zxid(1, 4))));
        Assert.Contains($"would cut below the snapshot at {new Zxid(1, 5)}", e.Message);
        store.Sync();
        Assert.Equal([new Zxid(1, 6)], store.Load().Log.Select(t => t.Zxid));
    }

    [Fact]
    public void An_epoch_going_back_or_an_append_out_of_order_is_refused_naming_the_files()
    {
        using var store = EpochOne();
        store.Write(new WriteAcceptedEpoch(++_seq, 3));
        var back = Assert.Throws<PersistInvariantException>(() => store.Write(new WriteAcceptedEpoch(++_seq, 2)));
        Assert.Contains("acceptedEpoch would go back from 3 to 2", back.Message);
        Assert.Contains(_dir.Path, back.Message);
        Assert.Contains("currentEpoch", back.Message);
        var above = Assert.Throws<PersistInvariantException>(() => store.Write(new WriteCurrentEpoch(++_seq, 4)));
        Assert.Contains("is after the accepted epoch, 3", above.Message);
        Append(store, 1, 1);
        Assert.Throws<PersistInvariantException>(() => Append(store, 1, 3));
        Assert.Equal("3", File.ReadAllText(_dir.File(EpochFile.Accepted)));
    }

    [Fact]
    public void The_in_memory_log_refuses_what_the_durable_store_refuses_instead_of_masking_it()
    {
        var log = new ConsensusLog();
        log.Write(new WriteAcceptedEpoch(++_seq, 2));
        log.Write(new WriteCurrentEpoch(++_seq, 2));
        Assert.Throws<PersistInvariantException>(() => log.Write(new WriteCurrentEpoch(++_seq, 1)));
        Assert.Throws<PersistInvariantException>(() => log.Write(new WriteAcceptedEpoch(++_seq, 1)));
        log.Write(new InstallSnapshot(++_seq, new ConsensusSnapshot(new Zxid(2, 3), new byte[] { 1 }), 2));
        Assert.Throws<PersistInvariantException>(() => log.Write(new TruncateAfter(++_seq, new Zxid(2, 1))));
        Assert.Equal((2u, 2u, new Zxid(2, 3)), (log.Load().AcceptedEpoch, log.Load().CurrentEpoch, log.Snapshot!.Zxid));
    }

    [Theory]
    [InlineData(EpochFile.Accepted, "seven")]
    [InlineData(EpochFile.Current, "")]
    public void A_garbled_epoch_file_is_a_start_error_naming_the_file(string name, string text)
    {
        EpochOne().Dispose();
        File.WriteAllText(_dir.File(name), text);
        var e = Assert.Throws<InvalidDataException>(() => DurableConsensusStore.Open(_dir.Path));
        Assert.Contains(_dir.File(name), e.Message);
    }

    [Fact]
    public void A_missing_epoch_file_beside_history_is_a_start_error_not_epoch_zero()
    {
        using (var store = EpochOne())
        {
            Append(store, 1, 1);
            store.Sync();
        }

        File.Delete(_dir.File(EpochFile.Current));
        var e = Assert.Throws<InvalidDataException>(() => DurableConsensusStore.Open(_dir.Path));
        Assert.Contains($"{_dir.File(EpochFile.Current)} is missing", e.Message);
    }

    [Fact]
    public void Epochs_that_break_the_start_rules_stop_the_start_as_in_ZooKeeper()
    {
        using (var store = EpochOne())
        {
            Append(store, 1, 1);
            store.Sync();
        }

        File.WriteAllText(_dir.File(EpochFile.Current), "0");
        var older = Assert.Throws<PersistInvariantException>(() => DurableConsensusStore.Open(_dir.Path));
        Assert.Contains("the current epoch, 0, is older than the last zxid", older.Message);
        File.WriteAllText(_dir.File(EpochFile.Current), "2");
        var after = Assert.Throws<PersistInvariantException>(() => DurableConsensusStore.Open(_dir.Path));
        Assert.Contains("the current epoch, 2, is after the accepted epoch, 1", after.Message);
    }

    [Fact]
    public void A_SNAP_of_a_newer_epoch_durable_before_its_currentEpoch_is_repaired_at_start_by_the_updatingEpoch_marker()
    {
        using (var store = EpochOne())
            store.Write(new WriteAcceptedEpoch(++_seq, 2));
        // As a crash between the snapshot and the currentEpoch file leaves it (DurableConsensusStore.Install's order).
        File.WriteAllBytes(_dir.File(SnapshotFile.NameFor(new Zxid(2, 4))), [4]);
        EpochFile.Mark(_dir.Path, EpochFile.Updating);

        using var reopened = DurableConsensusStore.Open(_dir.Path);
        Assert.Equal((2u, 2u, new Zxid(2, 4)), (reopened.Load().AcceptedEpoch, reopened.Load().CurrentEpoch, reopened.Load().SnapshotZxid));
        Assert.False(File.Exists(_dir.File(EpochFile.Updating)), "expected the marker to be removed once currentEpoch is repaired");
    }

    private DurableConsensusStore EpochOne()
    {
        var store = DurableConsensusStore.Open(_dir.Path);
        store.Write(new WriteAcceptedEpoch(++_seq, 1));
        store.Write(new WriteCurrentEpoch(++_seq, 1));
        return store;
    }

    private void Append(IConsensusStore store, uint epoch, params uint[] counters)
    {
        foreach (var counter in counters)
            store.Write(new AppendTxn(++_seq, TxnFor(new Zxid(epoch, counter))));
    }

    [Fact]
    public void A_record_garbled_on_the_way_is_refused_before_it_is_logged()
    {
        using (var store = EpochOne())
        {
            Append(store, 1, 1);
            var garbled = TxnFor(new Zxid(1, 2)).Data.ToArray();
            garbled[^1] ^= 0x01;
            var e = Assert.Throws<TxnRecordException>(() => store.Write(new AppendTxn(++_seq, new ConsensusTxn(new Zxid(1, 2), garbled))));
            Assert.Equal(CorruptionKind.ChecksumMismatch, e.Kind);
            store.Sync();
        }

        using var reopened = DurableConsensusStore.Open(_dir.Path);
        Assert.Equal([new Zxid(1, 1)], reopened.Load().Log.Select(t => t.Zxid));
    }

    internal static ConsensusTxn TxnFor(Zxid zxid) =>
        new(zxid, TxnCodec.Encode(new Txn(zxid, new SessionId(1), 0, new SetDataTxn("/a", [(byte)zxid.Counter], (int)zxid.Counter))));
}
