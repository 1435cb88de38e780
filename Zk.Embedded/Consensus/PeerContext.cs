using Zk.Embedded.Api;

namespace Zk.Embedded.Consensus;

/// <summary>
/// What every phase of one peer shares: its log window, its epochs (as asked for and as durable), the persistence
/// queue and the output being built. Each mutation of the log or the epochs goes through here, so the checks of
/// CONSENSUS-NOTES §10 (epoch files monotone, nothing committed truncated) sit in one place.
/// </summary>
internal sealed class PeerContext
{
    private readonly Queue<PersistRequest> _inFlight = new();
    private long _nextSeq;

    public PeerContext(ConsensusConfig config, PersistedState disk, IConsensusRandom random, ISnapshotSource snapshots)
    {
        Config = config;
        Random = random;
        Snapshots = snapshots;
        Log = disk.History.Count == 0 ? new LogWindow(disk.SnapshotZxid, disk.Log) : WithHistory(disk);
        // QuorumPeer.loadDataBase refuses to start on epoch files that contradict the log.
        if (disk.CurrentEpoch < Log.Last.Epoch)
            throw new InvalidOperationException($"currentEpoch {disk.CurrentEpoch} is older than the last zxid {Log.Last}");
        if (disk.AcceptedEpoch < disk.CurrentEpoch)
            throw new InvalidOperationException($"acceptedEpoch {disk.AcceptedEpoch} is less than currentEpoch {disk.CurrentEpoch}");
        AcceptedEpoch = DurableAcceptedEpoch = disk.AcceptedEpoch;
        CurrentEpoch = DurableCurrentEpoch = disk.CurrentEpoch;
        DurableZxid = Log.Last;
        // The driver's state is the snapshot; the log after it is not known to be committed until a leader says so.
        AppliedThrough = disk.SnapshotZxid;
        Reads = new LocalReads(this);
    }

    private static LogWindow WithHistory(PersistedState disk)
    {
        if (disk.History[^1].Zxid != disk.SnapshotZxid || disk.HistoryBase >= disk.SnapshotZxid)
            throw new InvalidOperationException($"history after {disk.HistoryBase} ending at {disk.History[^1].Zxid} does not end at the snapshot {disk.SnapshotZxid}");
        return new LogWindow(disk.HistoryBase, [.. disk.History, .. disk.Log]);
    }

    public ConsensusConfig Config { get; }
    public IConsensusRandom Random { get; }
    public ISnapshotSource Snapshots { get; }
    public LogWindow Log { get; }
    public long Now { get; set; }
    public Ready Out { get; set; } = new();
    /// <summary>This peer's read-index requests (<see cref="ZabPeer.ReadIndex"/>) until they are answered.</summary>
    public LocalReads Reads { get; }

    public uint AcceptedEpoch { get; private set; }
    public uint CurrentEpoch { get; private set; }
    public uint DurableAcceptedEpoch { get; private set; }
    public uint DurableCurrentEpoch { get; private set; }
    /// <summary>The last zxid known durable (what a crash would leave).</summary>
    public Zxid DurableZxid { get; private set; }
    public long DurableSeq { get; private set; }
    /// <summary>The last seq handed to the driver.</summary>
    public long LastSeq => _nextSeq;
    /// <summary>The last txn handed out to apply (or the restored snapshot's zxid).</summary>
    public Zxid AppliedThrough { get; private set; }

    /// <summary>Set by a phase that must give up; the peer goes LOOKING after the current input.</summary>
    public string? LookingReason { get; private set; }

    public void GoLooking(string reason) => LookingReason ??= reason;

    public void ClearLooking() => LookingReason = null;

    public void Send(int to, ZabMessage message) => Out.Messages.Add(new Outbound(to, message));

    public long AppendLocal(ConsensusTxn txn)
    {
        Log.Append(txn);
        return Persist(new AppendTxn(++_nextSeq, txn));
    }

    public long TruncateAfter(Zxid zxid)
    {
        if (zxid < AppliedThrough)
            throw new InvalidOperationException($"TRUNC to {zxid} would drop committed txns up to {AppliedThrough}");
        Log.TruncateAfter(zxid);
        return Persist(new TruncateAfter(++_nextSeq, zxid));
    }

    public long InstallSnapshot(ConsensusSnapshot snapshot)
    {
        Log.Reset(snapshot.Zxid);
        // A SNAP replaces the applied state too; txns handed out earlier in this batch are superseded by it.
        Out.Committed.Clear();
        Out.Restore = snapshot;
        AppliedThrough = snapshot.Zxid;
        // The epoch files must never fall behind the log: a snapshot of the new epoch carries currentEpoch with it.
        CurrentEpoch = Math.Max(CurrentEpoch, snapshot.Zxid.Epoch);
        if (CurrentEpoch > AcceptedEpoch)
            throw new InvalidOperationException($"snapshot at {snapshot.Zxid} is newer than acceptedEpoch {AcceptedEpoch}");
        return Persist(new InstallSnapshot(++_nextSeq, snapshot, CurrentEpoch));
    }

    public long PersistAcceptedEpoch(uint epoch)
    {
        if (epoch < AcceptedEpoch)
            throw new InvalidOperationException($"acceptedEpoch would go back from {AcceptedEpoch} to {epoch}");
        AcceptedEpoch = epoch;
        return Persist(new WriteAcceptedEpoch(++_nextSeq, epoch));
    }

    public long PersistCurrentEpoch(uint epoch)
    {
        if (epoch > AcceptedEpoch || epoch < CurrentEpoch)
            throw new InvalidOperationException($"currentEpoch {epoch} must be within [{CurrentEpoch}, acceptedEpoch {AcceptedEpoch}]");
        CurrentEpoch = epoch;
        return Persist(new WriteCurrentEpoch(++_nextSeq, epoch));
    }

    /// <summary>Hands out every logged txn up to <paramref name="zxid"/> to apply, in order, each once.</summary>
    public void CommitThrough(Zxid zxid)
    {
        if (zxid <= AppliedThrough)
            return;
        if (zxid > Log.Last)
            throw new InvalidOperationException($"commit of {zxid} beyond the last logged {Log.Last}");
        for (var i = Log.LowerBound(new Zxid(AppliedThrough.Value + 1)); i < Log.Count && Log[i].Zxid <= zxid; i++)
            Out.Committed.Add(Log[i]);
        AppliedThrough = zxid;
        Log.Evict(Config.CommittedLogWindow, AppliedThrough);
    }

    /// <summary>Applies the durable effect of every request up to <paramref name="seq"/>.</summary>
    public void StorageDone(long seq)
    {
        while (_inFlight.Count > 0 && _inFlight.Peek().Seq <= seq)
        {
            switch (_inFlight.Dequeue())
            {
                case AppendTxn a: DurableZxid = a.Txn.Zxid; break;
                case TruncateAfter t: DurableZxid = t.Zxid < DurableZxid ? t.Zxid : DurableZxid; break;
                case InstallSnapshot s:
                    DurableZxid = s.Snapshot.Zxid;
                    DurableCurrentEpoch = Math.Max(DurableCurrentEpoch, s.CurrentEpoch);
                    break;
                case WriteAcceptedEpoch e: DurableAcceptedEpoch = e.Epoch; break;
                case WriteCurrentEpoch c: DurableCurrentEpoch = c.Epoch; break;
            }
        }
        DurableSeq = Math.Max(DurableSeq, Math.Min(seq, _nextSeq));
    }

    private long Persist(PersistRequest request)
    {
        _inFlight.Enqueue(request);
        Out.Persist.Add(request);
        return request.Seq;
    }
}
