using Microsoft.Extensions.Logging;
using Zk.Embedded.Api;

namespace Zk.Embedded.Ensemble;

/// <summary>Log messages of the consensus driver. Ids 7000-7099; event names are contract.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 7000, EventName = "RoleChanged", Level = LogLevel.Information, Message = "Peer {PeerId} is now {State} ({Phase}, epoch {Epoch}): {Reason}")]
    public static partial void RoleChanged(ILogger logger, int peerId, Consensus.ServerState state, Consensus.ZabPhase phase, uint epoch, string reason);

    [LoggerMessage(EventId = 7001, EventName = "DriverFailed", Level = LogLevel.Critical, Message = "The consensus driver of peer {PeerId} stopped by an unexpected error; the peer no longer takes part in the ensemble")]
    public static partial void DriverFailed(ILogger logger, Exception exception, int peerId);

    [LoggerMessage(EventId = 7002, EventName = "UndecodableMessage", Level = LogLevel.Warning, Message = "Peer {PeerId} dropped an undecodable message from peer {From}")]
    public static partial void UndecodableMessage(ILogger logger, Exception exception, int peerId, int from);

    [LoggerMessage(EventId = 7003, EventName = "ProposalRefused", Level = LogLevel.Warning, Message = "Peer {PeerId} could not propose zxid {Zxid}: {Reason}")]
    public static partial void ProposalRefused(ILogger logger, int peerId, Zxid zxid, string reason);

    [LoggerMessage(EventId = 7004, EventName = "UndecodableTraffic", Level = LogLevel.Warning, Message = "Peer {PeerId} dropped undecodable client traffic from peer {From}")]
    public static partial void UndecodableTraffic(ILogger logger, Exception exception, int peerId, int from);

    [LoggerMessage(EventId = 7005, EventName = "SessionMoved", Level = LogLevel.Information, Message = "Refused a write of session {SessionId} through server {From}: the session moved to server {Owner}")]
    public static partial void SessionMoved(ILogger logger, SessionId sessionId, int from, int owner);

    [LoggerMessage(EventId = 7006, EventName = "SessionExpiring", Level = LogLevel.Information, Message = "The leader expires session {SessionId}, timeout of {TimeoutMillis} ms exceeded")]
    public static partial void SessionExpiring(ILogger logger, SessionId sessionId, int timeoutMillis);

    [LoggerMessage(EventId = 7007, EventName = "ForwardFailed", Level = LogLevel.Debug, Message = "A write of session {SessionId} (cxid {Cxid}) was not forwarded: {Reason}")]
    public static partial void ForwardFailed(ILogger logger, SessionId sessionId, int cxid, string reason);

    [LoggerMessage(EventId = 7008, EventName = "ServingChanged", Level = LogLevel.Information, Message = "Peer {PeerId} {What} clients")]
    public static partial void ServingChanged(ILogger logger, int peerId, string what);

    [LoggerMessage(EventId = 7009, EventName = "LearnerSync", Level = LogLevel.Information, Message = "Leader {PeerId} syncs learner {Learner} by {Kind} at zxid {Zxid}")]
    public static partial void LearnerSync(ILogger logger, int peerId, int learner, string kind, Api.Zxid zxid);

    [LoggerMessage(EventId = 7010, EventName = "ForwardsLost", Level = LogLevel.Information, Message = "Peer {PeerId} lost its connection to leader {Leader}: {Count} forwarded writes fail with ConnectionLoss")]
    public static partial void ForwardsLost(ILogger logger, int peerId, int leader, int count);

    [LoggerMessage(EventId = 7011, EventName = "ForwardsUnanswered", Level = LogLevel.Warning, Message = "Peer {PeerId} had a forwarded write unanswered by its leader for {Ticks} ticks (a lost request or reply): {Count} forwarded writes fail with ConnectionLoss")]
    public static partial void ForwardsUnanswered(ILogger logger, int peerId, int ticks, int count);

    [LoggerMessage(EventId = 7012, EventName = "TrafficLost", Level = LogLevel.Warning, Message = "Peer {PeerId} could not send client traffic to server {Peer} (the transport refused its frame): writes waiting on it fail with ConnectionLoss")]
    public static partial void TrafficLost(ILogger logger, int peerId, int peer);

    [LoggerMessage(EventId = 7013, EventName = "ReattachUnanswered", Level = LogLevel.Information, Message = "Peer {PeerId} attaches session {SessionId} although its leader has not answered the claim for {Wait}: the claim goes again with the session's next write")]
    public static partial void ReattachUnanswered(ILogger logger, int peerId, SessionId sessionId, TimeSpan wait);

    [LoggerMessage(EventId = 7014, EventName = "ForwardsLostOnLink", Level = LogLevel.Warning, Message = "Peer {PeerId} learnt from leader {Leader} that the link lost forwarded traffic (requests {Intact}, replies {Received} of {Replied} received): {Count} forwarded writes fail with ConnectionLoss")]
    public static partial void ForwardsLostOnLink(ILogger logger, int peerId, int leader, string intact, long received, long replied, int count);

    [LoggerMessage(EventId = 7040, EventName = "SnapTransferAborted", Level = LogLevel.Warning, Message = "Peer {PeerId} abandoned the SNAP at {Zxid} to learner {Learner}: {Reason}")]
    public static partial void SnapTransferAborted(ILogger logger, int peerId, int learner, Zxid zxid, string reason);

    [LoggerMessage(EventId = 7041, EventName = "SnapAssemblyDiscarded", Level = LogLevel.Warning, Message = "Peer {PeerId} discarded the partial SNAP at {Zxid} from {Leader} ({Received} of {Total} bytes): {Reason}")]
    public static partial void SnapAssemblyDiscarded(ILogger logger, int peerId, int leader, Zxid zxid, long received, long total, string reason);

    [LoggerMessage(EventId = 7042, EventName = "SnapAssembled", Level = LogLevel.Information, Message = "Peer {PeerId} received the SNAP at {Zxid} from {Leader}: {Total} bytes in {Chunks} chunks")]
    public static partial void SnapAssembled(ILogger logger, int peerId, int leader, Zxid zxid, long total, int chunks);

    [LoggerMessage(EventId = 7043, EventName = "PeriodicSnapshot", Level = LogLevel.Information, Message = "Peer {PeerId} snapshots its applied tree at {Zxid}")]
    public static partial void PeriodicSnapshot(ILogger logger, int peerId, Zxid zxid);

    [LoggerMessage(EventId = 7044, EventName = "PeriodicSnapshotFailed", Level = LogLevel.Warning, Message = "Peer {PeerId} could not write a periodic snapshot; it keeps its log and tries again later")]
    public static partial void PeriodicSnapshotFailed(ILogger logger, Exception exception, int peerId);
}
