using Zk.Embedded.Api;
using Zk.Embedded.Consensus;

namespace Zk.Embedded.Ensemble;

/// <summary>
/// A peer's consensus state held in memory: both epoch files, the newest snapshot and the log after it. It outlives
/// the driver, so a peer restarted in the same process finds it as a restarted process finds its disk. Not durable:
/// every request is "durable" once applied here, so it stands for a disk whose fsync never loses anything; the
/// durable version (PeerStorage's log plus acceptedEpoch/currentEpoch files) is the next step.
/// </summary>
internal sealed class ConsensusLog
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

    /// <summary>The committed txns to replay into a fresh state after <see cref="Snapshot"/>, up to <paramref name="through"/>.</summary>
    public IReadOnlyList<ConsensusTxn> LoggedThrough(Zxid through)
    {
        lock (_gate)
        {
            return _log.Where(t => t.Zxid <= through).ToArray();
        }
    }

    /// <summary>Applies one persist request; checks the order invariants the core promises (a broken one is a core bug).</summary>
    public void Apply(PersistRequest request)
    {
        lock (_gate)
        {
            switch (request)
            {
                case AppendTxn a:
                    _log.Add(a.Txn);
                    break;
                case TruncateAfter t:
                    _log.RemoveAll(x => x.Zxid > t.Zxid);
                    if (_snapshot is { } s && s.Zxid > t.Zxid)
                        _snapshot = null; // a snapshot newer than the truncation point never survives it (ZOOKEEPER-1549)
                    break;
                case InstallSnapshot i:
                    _snapshot = i.Snapshot;
                    _log.Clear();
                    _currentEpoch = Math.Max(_currentEpoch, i.CurrentEpoch);
                    break;
                case WriteAcceptedEpoch e:
                    _acceptedEpoch = Math.Max(_acceptedEpoch, e.Epoch);
                    break;
                case WriteCurrentEpoch c:
                    _currentEpoch = Math.Max(_currentEpoch, c.Epoch);
                    break;
                default:
                    throw new InvalidOperationException($"Unknown persist request {request.GetType().Name}.");
            }
        }
    }
}
