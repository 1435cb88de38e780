using Microsoft.Extensions.Logging.Abstractions;
using Zk.Embedded.Consensus;
using Zk.Embedded.Ensemble;
using Zk.Embedded.Processing;
using Zk.Embedded.Sessions;
using Zk.Embedded.Tree;

namespace Zk.Testing.Simulation;

/// <summary>
/// One incarnation of a simulated peer as its real <see cref="GlobalSessions"/> and <see cref="WriteForwarder"/> see it
/// (as a driver and a tree): the core's status, role changes raised from its ready batches, client traffic and
/// disconnect notices through the simulated network, the member tree's state and follower publisher, and, while it
/// leads, its real pipeline (the workload's planted faults at its entry), which takes its clients' writes, the writes
/// its learners forwarded and the sessions' expiry. Everything runs at once on the simulation's one thread; the
/// pipeline does its work when the simulation next drains the peer.
/// </summary>
internal sealed class SimMember : IConsensusView, IReplicaView, IWriteSubmitter
{
    private readonly SimPeer _peer;
    private readonly Func<int, ClientTraffic, bool> _send;
    private readonly Func<PendingWrite, ValueTask> _submit;
    private readonly Action<PendingWrite> _post;

    /// <param name="answerTicks">the forwarder's bound on a forwarded write's answer, in ticks (EnsembleMember's: twice the larger of initLimit and syncLimit).</param>
    /// <param name="unanswered">called each time the forwarder fails its waiting writes by that bound.</param>
    public SimMember(SimPeer peer, SessionTracker tracker, TimeProvider clock, Func<int, ClientTraffic, bool> send, Func<PendingWrite, ValueTask> submit, Action<PendingWrite> post, int answerTicks, Action unanswered)
    {
        (_peer, _send, _submit, _post) = (peer, send, submit, post);
        Sessions = tracker;
        Global = new GlobalSessions(this, this, tracker, clock, NullLogger.Instance);
        Forwarder = new WriteForwarder(this, this, Global, answerTicks, new EventCounter(ForwardsUnansweredEvent, unanswered));
    }

    /// <summary>WriteForwarder's log event for writes failed by its answer bound (Zk.Embedded/Ensemble/Log.cs).</summary>
    private const int ForwardsUnansweredEvent = 7011;

    /// <summary>The sessions this incarnation knows: its connections' and, as leader, every session of the tree.</summary>
    public SessionTracker Sessions { get; }

    public GlobalSessions Global { get; }

    /// <summary>Where this member's clients' writes go: its pipeline while it leads, the leader otherwise (the real one).</summary>
    public WriteForwarder Forwarder { get; }

    public int Id => _peer.Id;

    public ConsensusDriver.Status Current => _peer.Core is { } core
        ? new(core.State, core.Leader, core.EstablishedEpoch, core.IsServing, core.Phase, core.LearnerCounts)
        : new(ServerState.Looking, null, null, false, ZabPhase.Election, default);

    public event Action<RoleChange>? RoleChanged;

    public event Action<int, ClientTraffic>? TrafficReceived;

    public event Action<int>? PeerDisconnected;

    public void OnRoleChanged(RoleChange change) => RoleChanged?.Invoke(change);

    /// <summary>Client traffic from another member, delivered (the driver hands it to the member, never to the core).</summary>
    public void OnTraffic(int from, ClientTraffic traffic) => TrafficReceived?.Invoke(from, traffic);

    /// <summary>The transport saw <paramref name="peer"/>'s connection close.</summary>
    public void OnDisconnected(int peer) => PeerDisconnected?.Invoke(peer);

    public bool Run(Action action)
    {
        action();
        return true;
    }

    public bool SendTraffic(int to, ClientTraffic message) => _send(to, message);

    public TreeState State => _peer.Tree.State;

    public IWriteSubmitter? Writes => _peer.Tree.Writes is null ? null : this;

    public Publisher Follower => _peer.Tree.Follower;

    public ValueTask SubmitAsync(PendingWrite write, CancellationToken cancellationToken = default) => _submit(write);

    public void Post(PendingWrite write) => _post(write);
}
