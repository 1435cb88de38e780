using Zk.Embedded.Api;
using Zk.Embedded.Consensus;

namespace Zk.Embedded.Ensemble;

/// <summary>
/// A peer's consensus state held in memory: both epoch files, the newest snapshot and the log after it. It outlives
/// the driver, so a peer restarted in the same process finds it as a restarted process finds its disk. Not durable:
/// every request is "durable" once applied here, so it stands for a disk whose fsync never loses anything
/// (<see cref="DurableConsensusStore"/> is the durable one). For non-durable ensembles and tests.
/// </summary>
internal sealed class ConsensusLog : IConsensusStore
{
    private readonly object _gate = new();
    private readonly List<ConsensusTxn> _log = [];
    private uint _acceptedEpoch;
    private uint _currentEpoch;
    private ConsensusSnapshot? _snapshot;

    /// <summary>The newest snapshot, or null when the history starts from the empty state.</summary>
    public ConsensusSnapshot? Snapshot
    {
        get { lock (_gate) { return _snapshot; } }
    }

    /// <summary>What the core reads at start.</summary>
    public PersistedState Load()
    {
        lock (_gate)
        {
            return new PersistedState(_acceptedEpoch, _currentEpoch, _snapshot?.Zxid ?? default, _log.ToArray());
        }
    }

    /// <summary>Checks and applies one persist request (<see cref="PersistChecks"/>); a broken rule changes nothing.</summary>
    public void Write(PersistRequest request)
    {
        lock (_gate)
        {
            var last = _log.Count > 0 ? _log[^1].Zxid : _snapshot?.Zxid ?? default;
            PersistChecks.Next(new DiskShape(_acceptedEpoch, _currentEpoch, _snapshot?.Zxid ?? default, last), request, "the in-memory consensus log");
            switch (request)
            {
                case AppendTxn a:
                    _log.Add(a.Txn);
                    break;
                case TruncateAfter t:
                    _log.RemoveAll(x => x.Zxid > t.Zxid);
                    break;
                case InstallSnapshot i:
                    _snapshot = i.Snapshot;
                    _log.Clear();
                    _currentEpoch = Math.Max(_currentEpoch, i.CurrentEpoch);
                    break;
                case WriteAcceptedEpoch e:
                    _acceptedEpoch = e.Epoch;
                    break;
                case WriteCurrentEpoch c:
                    _currentEpoch = c.Epoch;
                    break;
            }
        }
    }

    /// <summary>Nothing to do: every write is as durable as this log gets.</summary>
    public void Sync()
    {
    }

    /// <summary>Nothing to release: the log lives on for a restart in the same process.</summary>
    public void Dispose()
    {
    }
}
