using Zk.Embedded.Api;

namespace Zk.Embedded.Consensus;

/// <summary>
/// The shape of a peer's consensus state on its disk, as the persist checks see it: both epoch files, the snapshot
/// its log starts after (the oldest one a store still replays from) and the last logged zxid.
/// </summary>
internal readonly record struct DiskShape(uint AcceptedEpoch, uint CurrentEpoch, Zxid BaseSnapshotZxid, Zxid LastZxid);

/// <summary>
/// The rules every consensus store (in memory, durable, the simulator's disk) holds while applying the core's
/// <see cref="PersistRequest"/>s, in one place so that none of them masks a broken invariant (CONSENSUS-NOTES §10,
/// invariant 8: acceptedEpoch ≥ currentEpoch ≥ epoch(last zxid), all monotone; appends in zxid order; a TRUNC never
/// cuts below the snapshot the log starts after, where only a SNAP can help). A broken rule is a core bug or a
/// damaged disk: it throws <see cref="PersistInvariantException"/> before anything is written, and the driver stops.
/// </summary>
internal static class PersistChecks
{
    /// <summary>Checks <paramref name="request"/> against the disk as it is; returns the shape it will leave.</summary>
    /// <exception cref="PersistInvariantException">The request breaks a rule; <paramref name="where"/> names the store.</exception>
    public static DiskShape Next(in DiskShape disk, PersistRequest request, string where)
    {
        var next = request switch
        {
            AppendTxn a when !LogWindow.IsNext(disk.LastZxid, a.Txn.Zxid) =>
                throw Broken(where, $"log append {a.Txn.Zxid} does not follow the last logged zxid {disk.LastZxid}"),
            AppendTxn a => disk with { LastZxid = a.Txn.Zxid },
            TruncateAfter t when t.Zxid < disk.BaseSnapshotZxid =>
                throw Broken(where, $"TRUNC to {t.Zxid} would cut below the snapshot at {disk.BaseSnapshotZxid} that the log starts after (only a SNAP can go back that far)"),
            TruncateAfter t => disk with { LastZxid = t.Zxid < disk.LastZxid ? t.Zxid : disk.LastZxid },
            // A SNAP replaces state and log; its epoch only ever raises currentEpoch (ZooKeeper's updatingEpoch).
            InstallSnapshot s => disk with
            {
                BaseSnapshotZxid = s.Snapshot.Zxid,
                LastZxid = s.Snapshot.Zxid,
                CurrentEpoch = Math.Max(disk.CurrentEpoch, s.CurrentEpoch),
            },
            WriteAcceptedEpoch e when e.Epoch < disk.AcceptedEpoch =>
                throw Broken(where, $"acceptedEpoch would go back from {disk.AcceptedEpoch} to {e.Epoch}"),
            WriteAcceptedEpoch e => disk with { AcceptedEpoch = e.Epoch },
            WriteCurrentEpoch c when c.Epoch < disk.CurrentEpoch =>
                throw Broken(where, $"currentEpoch would go back from {disk.CurrentEpoch} to {c.Epoch}"),
            WriteCurrentEpoch c => disk with { CurrentEpoch = c.Epoch },
            _ => throw Broken(where, $"unknown persist request {request.GetType().Name}"),
        };
        // The message is only built when a rule breaks: this runs for every txn a member logs.
        if (BrokenEpochRule(next) is { } rule)
            throw Broken(where, $"after {request.GetType().Name}: {rule}");
        return next;
    }

    /// <summary>
    /// The epoch rules of <c>QuorumPeer.loadDataBase</c>: currentEpoch is not older than the last logged zxid's epoch,
    /// and acceptedEpoch is not older than currentEpoch. Checked at start and after every request.
    /// </summary>
    /// <exception cref="PersistInvariantException">A rule is broken.</exception>
    public static void CheckEpochs(in DiskShape disk, string where, string when)
    {
        if (BrokenEpochRule(disk) is { } rule)
            throw Broken(where, $"{when}: {rule}");
    }

    /// <summary>The epoch rule <paramref name="disk"/> breaks, or null when it keeps both.</summary>
    private static string? BrokenEpochRule(in DiskShape disk) =>
        disk.CurrentEpoch < disk.LastZxid.Epoch ? $"the current epoch, {disk.CurrentEpoch}, is older than the last zxid, {disk.LastZxid}"
        : disk.AcceptedEpoch < disk.CurrentEpoch ? $"the current epoch, {disk.CurrentEpoch}, is after the accepted epoch, {disk.AcceptedEpoch}"
        : null;

    private static PersistInvariantException Broken(string where, string rule) => new($"{where}: {rule}.");
}

/// <summary>A persist request or a disk at start that breaks a consensus invariant; the peer must stop.</summary>
internal sealed class PersistInvariantException(string message) : Exception(message);
