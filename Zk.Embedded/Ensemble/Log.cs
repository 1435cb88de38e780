using Microsoft.Extensions.Logging;

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

    [LoggerMessage(EventId = 7003, EventName = "ProposalRefused", Level = LogLevel.Warning, Message = "Peer {PeerId} could not propose zxid 0x{Zxid:x}: {Reason}")]
    public static partial void ProposalRefused(ILogger logger, int peerId, long zxid, string reason);
}
