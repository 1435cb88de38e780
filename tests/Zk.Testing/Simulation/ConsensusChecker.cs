using Zk.Embedded.Api;
using Zk.Embedded.Consensus;

namespace Zk.Testing.Simulation;

/// <summary>
/// The ZAB invariants of CONSENSUS-NOTES §10 over a running simulation (tigerbeetle's state_checker): at most one
/// established leader per epoch; every peer's applied txns are a prefix of one global history (same zxids, same
/// bytes); every txn a client saw committed is in that history and, at quiescence, on every peer.
/// The epoch-file invariant is checked by <see cref="SimDisk"/> on each durable write.
/// </summary>
internal sealed class ConsensusChecker
{
    private readonly Dictionary<uint, int> _leaders = [];
    private readonly List<ConsensusTxn> _history = [];
    private readonly List<Zxid> _acknowledged = [];

    public IReadOnlyList<ConsensusTxn> History => _history;
    public int Acknowledged => _acknowledged.Count;
    public int EpochsEstablished => _leaders.Count;

    public void CheckLeader(SimPeer peer)
    {
        if (peer.Core?.EstablishedEpoch is not { } epoch)
            return;
        if (_leaders.TryGetValue(epoch, out var other) && other != peer.Id)
            throw new ConsensusViolation($"two established leaders in epoch {epoch}: {other} and {peer.Id}");
        _leaders[epoch] = peer.Id;
    }

    /// <summary>Checks the peer's applied txns from <paramref name="from"/> against the global history.</summary>
    public void CheckApplied(SimPeer peer, int from)
    {
        var applied = peer.Applied;
        for (var i = from; i < applied.Count; i++)
        {
            if (i == _history.Count)
            {
                _history.Add(applied[i]);
                continue;
            }
            var expected = _history[i];
            if (expected.Zxid != applied[i].Zxid || !expected.Data.Span.SequenceEqual(applied[i].Data.Span))
                throw new ConsensusViolation(
                    $"peer {peer.Id} applied {applied[i].Zxid} at position {i}, but {expected.Zxid} was committed there (prefix agreement)");
        }
    }

    /// <summary>A leader applied its own proposal: its client would now be told the write succeeded.</summary>
    public void Acknowledge(Zxid zxid) => _acknowledged.Add(zxid);

    public void CheckDurability(IReadOnlyList<SimPeer> peers)
    {
        foreach (var zxid in _acknowledged)
        {
            foreach (var peer in peers)
            {
                if (!Holds(peer.Applied, zxid))
                    throw new ConsensusViolation($"acknowledged txn {zxid} is missing on peer {peer.Id} at quiescence (applied up to {Last(peer.Applied)})");
            }
        }
    }

    private static bool Holds(List<ConsensusTxn> applied, Zxid zxid)
    {
        foreach (var txn in applied)
        {
            if (txn.Zxid == zxid)
                return true;
        }
        return false;
    }

    private static Zxid Last(List<ConsensusTxn> applied) => applied.Count > 0 ? applied[^1].Zxid : default;
}
