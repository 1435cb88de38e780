using Zk.Embedded.Processing;

namespace Zk.Embedded.Tests.Consensus.Harness;

/// <summary>Session liveness in the workload: pings, clients that stop pinging, and the leader's expiry of their sessions.</summary>
internal sealed partial class Workload
{
    private readonly SimSessions _sessions = new(options.SessionTimeoutSteps);

    /// <summary>On a leader's tick: it expires every session not heard of within the timeout; returns whether it proposed.</summary>
    public bool ExpireSessions(SimPeer leader)
    {
        if (leader.Core is not { EstablishedEpoch: not null, IsServing: true } || paused(leader))
            return false;
        var proposed = false;
        foreach (var session in _sessions.Expired(leader, now()))
        {
            if (leader.Proposer is null)
                break;
            if (Prepare(leader, session, new CloseSessionRequest(Expired: true), cxid: 0) is not (_, { } zxid))
                continue;   // refused by the core (the proposer is gone: the loop ends) or nothing to close; cxid 0 as ZooKeeper's expiry
            History.Expirations.Add(session);
            log($"leader {leader.Id} expires session {session:x} as {zxid}");
            proposed = true;
        }
        return proposed;
    }

    /// <summary>A client action through a serving peer whose leader is up is a ping: the leader hears of the session.</summary>
    private void Ping(SimClient client, SimPeer peer)
    {
        if (client.Session != 0 && LeaderOf(peer) is not null)
            _sessions.Touch(client.Session, now());
    }

    /// <summary>The client's process hangs: it stops pinging and abandons its session, and comes back later with a new one.</summary>
    private void GoSilent(SimClient client)
    {
        log($"client {client.Id} goes silent with session {client.Session:x}");
        Disconnect(client, "it went silent");
        client.Session = 0;
        client.SilentUntil = now() + 2 * _sessions.TimeoutSteps;
    }
}
