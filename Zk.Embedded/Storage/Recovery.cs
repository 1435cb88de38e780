using System.Diagnostics;
using Zk.Embedded.Api;
using Zk.Embedded.Tree;
using Zk.Embedded.Txns;

namespace Zk.Embedded.Storage;

/// <summary>What <see cref="Recovery.Recover(string, TxnLog, AclCache?, Action{int, long?, Zxid, Zxid}?)"/> found and did.</summary>
/// <param name="State">The recovered state: the snapshot plus every good logged txn after it.</param>
/// <param name="Log">The txn log it read (opened by recovery when it was given an opener).</param>
/// <param name="SnapshotPath">The snapshot it started from, or null when it started from the initial tree.</param>
/// <param name="Replayed">How many logged txns were applied on top of the snapshot.</param>
/// <param name="SkippedSnapshots">Newer snapshots that failed verification, newest first, each saying why.</param>
/// <param name="LogCorruption">The first bad log record, if any; <see cref="State"/> ends just before it.
/// Nothing after it was applied. Truncating the log there is the caller's decision (see DESIGN, Storage).</param>
/// <param name="SnapshotLoadTime">Time spent loading (and verifying) the snapshot; the rest of recovery is the replay.</param>
/// <param name="LogOpenTime">Time spent opening the log, beside the snapshot load.</param>
internal sealed record RecoveryResult(
    TreeState State,
    TxnLog Log,
    string? SnapshotPath,
    int Replayed,
    IReadOnlyList<StorageCorruptionException> SkippedSnapshots,
    StorageCorruptionException? LogCorruption,
    TimeSpan SnapshotLoadTime,
    TimeSpan LogOpenTime);

/// <summary>
/// Recovery: the newest valid snapshot, then the log after its zxid replayed through <see cref="TxnApplier"/>. The log
/// is opened and read ahead on another thread while the snapshot loads (<see cref="LogPrefetch"/>).
/// </summary>
internal static class Recovery
{
    /// <summary>Replayed txns between two progress reports.</summary>
    public const int ProgressEvery = 100_000;

    /// <summary>Recovers from <paramref name="snapDir"/> and a log the caller opened and still owns.</summary>
    /// <param name="progress">called every <see cref="ProgressEvery"/> replayed txns with (replayed, how many in all when
    /// known, zxid reached, last logged zxid). The total is known when the state to replay on and the log's last txn
    /// are in one epoch: zxids follow one another there, so it is their difference.</param>
    public static RecoveryResult Recover(string snapDir, TxnLog log, AclCache? acls = null, Action<int, long?, Zxid, Zxid>? progress = null)
    {
        var snapshots = SnapshotFile.List(snapDir);
        using var prefetch = new LogPrefetch(() => log, NewestOf(snapshots), acls);
        return Recover(snapshots, prefetch, acls, progress);
    }

    /// <summary>Recovers from <paramref name="snapDir"/> and the log <paramref name="openLog"/> opens, opening it beside
    /// the snapshot load. The log is the result's; when recovery throws, a log it opened is closed without a checkpoint
    /// (the files stay as they were).</summary>
    public static RecoveryResult Recover(string snapDir, Func<TxnLog> openLog, AclCache? acls = null, Action<int, long?, Zxid, Zxid>? progress = null)
    {
        var snapshots = SnapshotFile.List(snapDir);
        var prefetch = new LogPrefetch(openLog, NewestOf(snapshots), acls);
        try
        {
            var result = Recover(snapshots, prefetch, acls, progress);
            prefetch.Dispose();
            return result;
        }
        catch
        {
            prefetch.Dispose();
            prefetch.OpenedLog?.CloseWithoutCheckpoint();
            throw;
        }
    }

    /// <summary>Where the log is read ahead from: the newest snapshot's zxid (recovery starts there unless it fails verification).</summary>
    private static Zxid NewestOf(IReadOnlyList<(Zxid Zxid, string Path)> snapshots) => snapshots is [var newest, ..] ? newest.Zxid : default;

    /// <param name="snapshots">the snapshot directory's snapshots, newest first (<see cref="SnapshotFile.List"/>).</param>
    private static RecoveryResult Recover(IReadOnlyList<(Zxid Zxid, string Path)> snapshots, LogPrefetch prefetch, AclCache? acls, Action<int, long?, Zxid, Zxid>? progress)
    {
        var started = Stopwatch.GetTimestamp();
        var skipped = new List<StorageCorruptionException>();
        TreeState? state = null;
        string? snapshotPath = null;
        foreach (var (_, path) in snapshots)
        {
            try
            {
                state = SnapshotFile.Read(path, acls);
                snapshotPath = path;
                break;
            }
            catch (StorageCorruptionException e)
            {
                skipped.Add(e);
            }
        }

        state ??= TreeState.CreateInitial();
        var snapshotLoadTime = Stopwatch.GetElapsedTime(started);
        var log = prefetch.Log;
        var replayed = 0;
        var last = log.LastZxid;
        long? total = last.Epoch == state.Zxid.Epoch ? Math.Max(0, (long)last.Counter - state.Zxid.Counter) : null;
        StorageCorruptionException? corruption = null;
        try
        {
            foreach (var txn in prefetch.ReadFrom(state.Zxid))
            {
                if (!TxnSequence.Follows(state.Zxid, txn.Zxid))
                {
                    // Applying it anyway could succeed (a create under the root needs nothing before it) and start a
                    // peer that silently lacks what the missing txns did, acknowledged writes among them.
                    throw new StorageCorruptionException(
                        CorruptionKind.Gap,
                        log.Location,
                        txn.Zxid,
                        $"the state to replay it on is at zxid {state.Zxid} ({(snapshotPath is null ? "no valid snapshot, the empty tree" : "snapshot " + snapshotPath)}), so the txns in between are missing");
                }

                state = Apply(state, txn);
                replayed++;
                if (progress is not null && replayed % ProgressEvery == 0)
                {
                    progress(replayed, total, txn.Zxid, last);
                }
            }
        }
        catch (StorageCorruptionException e)
        {
            corruption = e;
        }

        return new RecoveryResult(state, log, snapshotPath, replayed, skipped, corruption, snapshotLoadTime, prefetch.OpenTime);
    }

    private static TreeState Apply(TreeState state, Txn txn)
    {
        try
        {
            return TxnApplier.Apply(state, txn, triggers: null);
        }
        catch (InvalidOperationException e)
        {
            // The txn verified but does not fit the state: the snapshot and the log disagree. Not a torn tail, so
            // nothing may be truncated; stop with the zxid named.
            throw new InvalidDataException($"Replaying txn {txn.Zxid} on the state at {state.Zxid} failed: {e.Message}", e);
        }
    }
}
