using Zk.Embedded.Consensus;

namespace Zk.Embedded.Ensemble;

/// <summary>The driver's traces and counters: an election span, and each learner sync logged and counted.</summary>
internal sealed partial class ConsensusDriver
{
    /// <summary>One span per election: opened on going LOOKING, closed once this member serves in the broadcast phase.</summary>
    private void TraceElection(RoleChange change)
    {
        if (change.State == ServerState.Looking)
        {
            _election ??= Telemetry.StartElection(_core.Id, change.Reason);
        }
        else if (change.Phase == ZabPhase.Broadcast && _election is { } election)
        {
            election.SetTag("zk.state", change.State.ToString());
            election.SetTag("zk.epoch", change.Epoch);
            election.SetTag("zk.leader", _core.Leader);
            election.Dispose();
            _election = null;
        }
    }

    private void CountSync(int learner, ZabMessage message)
    {
        var (kind, zxid) = message switch
        {
            Diff d => ("diff", d.Zxid),
            Trunc t => ("trunc", t.Zxid),
            _ => ("snap", ((Snap)message).Snapshot.Zxid),
        };
        Log.LearnerSync(_logger, _core.Id, learner, kind, zxid);
        Telemetry.LearnerSyncs.Add(1, new KeyValuePair<string, object?>("kind", kind));
    }
}
