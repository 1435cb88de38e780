using Zk.Embedded.Api;
using Zk.Embedded.Consensus;
using Zk.Embedded.Processing;
using Zk.Embedded.Sessions;

namespace Zk.Testing.Simulation;

/// <summary>
/// Session liveness in the workload, by the real <see cref="Zk.Embedded.Ensemble.GlobalSessions"/> of each peer's incarnation
/// (<see cref="SimMember"/>): a client's action touches its session in its peer's tracker; a learner reports the
/// sessions it heard from to its leader every tick (session activity through the simulated network, lost with it);
/// the leader expires, with a closeSession through its proposer, every session not heard of within its timeout
/// (<see cref="SimOptions.SessionTimeoutSteps"/>, one millisecond per step), and gives every session a fresh deadline
/// when it is established. Clients that stop pinging, and the expiry of their sessions.
/// </summary>
internal sealed partial class Workload
{
    private readonly SimMember?[] _members = new SimMember?[peers.Count];

    /// <summary>How the members' client traffic travels: the simulation's network (from, to, message); false when dropped.</summary>
    public Func<int, int, ZabMessage, bool> SendTraffic { get; set; } = (_, _, _) => false;

    /// <summary>The member of the peer's running incarnation (its GlobalSessions, WriteForwarder and tracker).</summary>
    public SimMember MemberOf(SimPeer peer) => _members[peer.Id - 1] ?? throw new InvalidOperationException($"peer {peer.Id} never started");

    /// <summary>A peer (re)started: a new incarnation with an empty session tracker, as a new process has.</summary>
    public void OnStart(SimPeer peer)
    {
        var tracker = new SessionTracker(_clock, peer.Id, SessionTracker.EnsembleSecret);
        peer.Tree.Sessions = tracker;
        (peer.Tree.Builder, peer.Tree.Clock, peer.Proposing) = (_builder, _clock, OnProposing);
        // EnsembleMember's bound on a forwarded write's answer: twice the larger of initLimit and syncLimit.
        var answerTicks = 2 * Math.Max(peer.Config.InitLimit, peer.Config.SyncLimit);
        _members[peer.Id - 1] = new SimMember(peer, tracker, _clock, (to, message) => SendTraffic(peer.Id, to, message), write => Submit(peer, write), write => Post(peer, write), answerTicks,
            () => History.ForwardsUnanswered++);
    }

    /// <summary>The core changed role or phase (from its ready batch): the member's GlobalSessions hears it, as from the driver.</summary>
    public void OnRoleChanged(SimPeer peer, RoleChange change) => _members[peer.Id - 1]?.OnRoleChanged(change);

    /// <summary>
    /// A tick of the peer, as EnsembleMember's: its GlobalSessions expires (as leader) or reports activity (as learner),
    /// and its WriteForwarder fails forwarded writes unanswered for too long.
    /// </summary>
    public void OnTick(SimPeer peer)
    {
        if (_members[peer.Id - 1] is { } member)
        {
            member.Global.OnTick();
            member.Forwarder.OnTick();
        }
    }

    /// <summary>Client traffic a member sent another (forwarded writes and their replies, session activity), delivered.</summary>
    public void OnTraffic(int to, int from, ClientTraffic traffic)
    {
        if (traffic is ForwardedRequest)
            History.Forwarded++;
        _members[to - 1]?.OnTraffic(from, traffic);
    }

    /// <summary>The transport told <paramref name="to"/> that <paramref name="peer"/>'s connection closed.</summary>
    public void OnDisconnected(int to, int peer) => _members[to - 1]?.OnDisconnected(peer);

    /// <summary>A client action through its peer touches its session there (the peer reports it to the leader at its next tick).</summary>
    private void Ping(SimClient client, SimPeer peer)
    {
        if (client.Session != 0 && client.Connection!.Server.SessionId.Value == client.Session)
            peer.Tree.Sessions.Touch(client.Connection.Server);
    }

    /// <summary>The client's process hangs: it stops pinging and abandons its session, and comes back later with a new one.</summary>
    private void GoSilent(SimClient client)
    {
        log($"client {client.Id} goes silent with session {client.Session:x}");
        LoseSession(client, "it went silent");
        client.SilentUntil = now() + 2 * options.SessionTimeoutSteps;
    }
}
