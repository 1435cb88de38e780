using Zk.Embedded.Api;
using Zk.Embedded.Consensus;
using Zk.Embedded.Storage;

namespace Zk.Embedded.Ensemble;

/// <summary>
/// Reads a <see cref="DurableConsensusStore"/>'s files at start and checks them as <c>QuorumPeer.loadDataBase</c>
/// does: the newest snapshot and the log after it (which must continue it), then both epoch files. Where this
/// differs from ZooKeeper (a missing epoch file beside history is an error, not epoch(lastZxid)) is in
/// docs/zookeeper-differences.md.
/// </summary>
internal static class DurableConsensusRecovery
{
    /// <summary>The disk's shape and its newest snapshot's zxid (default when none).</summary>
    public static (DiskShape Shape, Zxid NewestSnapshot) Recover(string dir, TxnLog log)
    {
        var where = $"consensus state in {dir}";
        var snapshots = SnapshotFile.List(dir); // newest first
        var newest = snapshots.Count > 0 ? snapshots[0].Zxid : default;
        var first = default(Zxid);
        var last = newest;
        foreach (var txn in log.ReadFrom(default))
        {
            var zxid = txn.Zxid;
            if (first == default)
                first = zxid;
            if (zxid > newest && !LogWindow.IsNext(last, zxid))
                throw new InvalidDataException($"{where}: the txn log ({TxnLog.DataFileName}) does not continue from {last}: its next txn is {zxid}. The history is damaged; remove this server's data directory so that it resyncs from the ensemble.");
            if (zxid > newest)
                last = zxid;
        }

        var baseSnapshot = OldestReplayable(dir, snapshots, first, last);
        var (accepted, current) = ReadEpochs(dir, where, fresh: snapshots.Count == 0 && first == default, newest);
        var shape = new DiskShape(accepted, current, baseSnapshot, last);
        PersistChecks.CheckEpochs(shape, $"{where} ({EpochFile.Accepted}, {EpochFile.Current}, {TxnLog.DataFileName}, {SnapshotFile.Prefix}*)", "at start");
        return (shape, newest);
    }

    /// <summary>
    /// The oldest snapshot the log continues through to its end: a TRUNC may go back to it. Older ones are left over
    /// from a SNAP interrupted by a crash (their log is gone) and are deleted.
    /// </summary>
    private static Zxid OldestReplayable(string dir, IReadOnlyList<(Zxid Zxid, string Path)> snapshots, Zxid first, Zxid last)
    {
        if (snapshots.Count == 0)
            return default;
        var oldest = snapshots[0].Zxid;
        var stale = false;
        for (var i = 1; i < snapshots.Count; i++)
        {
            var zxid = snapshots[i].Zxid;
            if (first != default && (first <= zxid || LogWindow.IsNext(zxid, first)) && zxid <= last)
            {
                oldest = zxid;
                continue;
            }

            File.Delete(snapshots[i].Path);
            stale = true;
        }

        if (stale)
            DirectorySync.Sync(dir);
        return oldest;
    }

    private static (uint Accepted, uint Current) ReadEpochs(string dir, string where, bool fresh, Zxid newestSnapshot)
    {
        var accepted = EpochFile.Read(dir, EpochFile.Accepted);
        var current = EpochFile.Read(dir, EpochFile.Current);
        if (accepted is null && current is null && fresh)
        {
            // A new server: ZooKeeper writes both files with epoch(lastZxid) = 0 on its first start too.
            EpochFile.Write(dir, EpochFile.Current, 0);
            EpochFile.Write(dir, EpochFile.Accepted, 0);
            return (0, 0);
        }

        if (current is null || accepted is null)
        {
            var missing = current is null ? EpochFile.Current : EpochFile.Accepted;
            throw new InvalidDataException($"{Path.Combine(dir, missing)} is missing while {where} holds history. ZooKeeper would assume the epoch of the last zxid (for upgrades from 3.3), which can undo a promise this server made to a leader; restore the file, or remove this server's data directory so that it resyncs from the ensemble.");
        }

        if (File.Exists(Path.Combine(dir, EpochFile.Updating)))
        {
            // A SNAP of a newer epoch was durable before currentEpoch was (QuorumPeer.loadDataBase's updatingEpoch rule).
            if (current < newestSnapshot.Epoch)
            {
                current = newestSnapshot.Epoch;
                EpochFile.Write(dir, EpochFile.Current, current.Value);
            }

            EpochFile.Delete(dir, EpochFile.Updating);
        }

        return (accepted.Value, current.Value);
    }
}
