using Zk.Embedded.Api;

namespace Zk.Embedded.Consensus;

/// <summary>
/// A peer's consensus state as plain data: both epochs, the snapshot its log starts after and the log. The one
/// place that applies a <see cref="PersistRequest"/> to such state, checked by <see cref="PersistChecks"/> first;
/// the in-memory store and the simulator's disk hold their state in one. Not thread-safe: its owner locks.
/// </summary>
internal sealed class ConsensusState(ConsensusSnapshot? snapshot = null)
{
    public uint AcceptedEpoch { get; private set; }

    public uint CurrentEpoch { get; private set; }

    /// <summary>The snapshot the log starts after; null when the history starts from the empty state.</summary>
    public ConsensusSnapshot? Snapshot { get; set; } = snapshot;

    public List<ConsensusTxn> Log { get; } = [];

    public Zxid LastZxid => Log.Count > 0 ? Log[^1].Zxid : Snapshot?.Zxid ?? default;

    /// <summary>What the core reads at start.</summary>
    public PersistedState Load() => new(AcceptedEpoch, CurrentEpoch, Snapshot?.Zxid ?? default, Log.ToArray());

    /// <summary>Checks <paramref name="request"/> against the state and applies it; a broken rule changes nothing.</summary>
    /// <exception cref="PersistInvariantException">The request breaks a rule; <paramref name="where"/> names the store.</exception>
    public void Write(PersistRequest request, string where)
    {
        PersistChecks.Next(new DiskShape(AcceptedEpoch, CurrentEpoch, Snapshot?.Zxid ?? default, LastZxid), request, where);
        ApplyUnchecked(request);
    }

    /// <summary>
    /// Replaces the snapshot with a newer one of committed state and drops the log it covers (a store in memory keeps
    /// one snapshot and no more log than that); false, changing nothing, when it is not newer or not in the log.
    /// </summary>
    public bool Compact(ConsensusSnapshot snapshot)
    {
        var current = Snapshot?.Zxid ?? default;
        if (snapshot.Zxid <= current || !Log.Exists(t => t.Zxid == snapshot.Zxid))
            return false;
        Snapshot = snapshot;
        Log.RemoveAll(t => t.Zxid <= snapshot.Zxid);
        return true;
    }

    /// <summary>Applies without the checks: only for a planted bug that must get past them to reach a checker.</summary>
    public void ApplyUnchecked(PersistRequest request)
    {
        switch (request)
        {
            case AppendTxn a:
                Log.Add(a.Txn);
                break;
            case TruncateAfter t:
                Log.RemoveAll(x => x.Zxid > t.Zxid);
                break;
            case InstallSnapshot i:
                Snapshot = i.Snapshot;
                Log.Clear();
                CurrentEpoch = Math.Max(CurrentEpoch, i.CurrentEpoch);
                break;
            case WriteAcceptedEpoch e:
                AcceptedEpoch = e.Epoch;
                break;
            case WriteCurrentEpoch c:
                CurrentEpoch = c.Epoch;
                break;
        }
    }
}
