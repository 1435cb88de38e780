using Microsoft.Extensions.Logging.Abstractions;
using Zk.Embedded.Consensus;
using Zk.Embedded.Ensemble;
using Zk.Embedded.Processing;
using Zk.Embedded.Sessions;
using Zk.Embedded.Tree;

namespace Zk.Embedded.Tests.Consensus.Harness;

/// <summary>
/// One incarnation of a simulated peer as its real <see cref="GlobalSessions"/> sees it (as a driver and a tree):
/// the core's status, role changes raised from its ready batches, client traffic through the simulated network, the
/// tree's state, and, while it leads with a proposer, a write submitter that takes the sessions' expiry (a
/// closeSession through the leader's proposer). Everything runs at once on the simulation's one thread.
/// </summary>
internal sealed class SimMember : IConsensusView, IReplicaView, IWriteSubmitter
{
    private readonly SimPeer _peer;
    private readonly Func<int, ClientTraffic, bool> _send;
    private readonly Action<PendingWrite> _post;

    public SimMember(SimPeer peer, SessionTracker tracker, TimeProvider clock, Func<int, ClientTraffic, bool> send, Action<PendingWrite> post)
    {
        (_peer, _send, _post) = (peer, send, post);
        Sessions = tracker;
        Global = new GlobalSessions(this, this, tracker, clock, NullLogger.Instance);
    }

    /// <summary>The sessions this incarnation knows: its connections' and, as leader, every session of the tree.</summary>
    public SessionTracker Sessions { get; }

    public GlobalSessions Global { get; }

    public int Id => _peer.Id;

    public ConsensusDriver.Status Current => _peer.Core is { } core
        ? new(core.State, core.Leader, core.EstablishedEpoch, core.IsServing, core.Phase, core.LearnerCounts)
        : new(ServerState.Looking, null, null, false, ZabPhase.Election, default);

    public event Action<RoleChange>? RoleChanged;

    public void OnRoleChanged(RoleChange change) => RoleChanged?.Invoke(change);

    public bool Run(Action action)
    {
        action();
        return true;
    }

    public bool SendTraffic(int to, ClientTraffic message) => _send(to, message);

    public TreeState State => _peer.Tree.State;

    public IWriteSubmitter? Writes => _peer.Proposer is null ? null : this;

    public ValueTask SubmitAsync(PendingWrite write, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException("the simulated clients' writes go through the workload");

    public void Post(PendingWrite write) => _post(write);
}
