using Microsoft.Extensions.Logging;

namespace Zk.Transport.NetMQ;

/// <summary>Log messages of the NetMQ transport. Ids 5000-5099; event names are contract.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 5000, EventName = "TransportStarted", Level = LogLevel.Information, Message = "Peer {Id} listening for the quorum on {Endpoint} ({Auth})")]
    public static partial void Started(ILogger logger, int id, string endpoint, string auth);

    [LoggerMessage(EventId = 5001, EventName = "PeerConnected", Level = LogLevel.Information, Message = "Peer {Id}: connected to peer {Peer} at {Endpoint}")]
    public static partial void PeerConnected(ILogger logger, int id, int peer, string endpoint);

    [LoggerMessage(EventId = 5002, EventName = "PeerDisconnected", Level = LogLevel.Information, Message = "Peer {Id}: lost the connection to peer {Peer}; retrying in {Millis} ms")]
    public static partial void PeerDisconnected(ILogger logger, int id, int peer, long millis);

    [LoggerMessage(EventId = 5003, EventName = "PeerProofRefused", Level = LogLevel.Warning,
        Message = "Peer {Id}: the process at {Endpoint} (peer {Peer}'s address) did not prove the shared secret; not sending to it, retrying in {Millis} ms")]
    public static partial void PeerProofRefused(ILogger logger, int id, int peer, string endpoint, long millis);

    [LoggerMessage(EventId = 5004, EventName = "HandshakeTimedOut", Level = LogLevel.Warning, Message = "Peer {Id}: peer {Peer} at {Endpoint} did not answer the handshake; retrying in {Millis} ms")]
    public static partial void HandshakeTimedOut(ILogger logger, int id, int peer, string endpoint, long millis);

    [LoggerMessage(EventId = 5005, EventName = "IncomingAccepted", Level = LogLevel.Information, Message = "Peer {Id}: accepted peer {Peer}'s connection")]
    public static partial void IncomingAccepted(ILogger logger, int id, int peer);

    [LoggerMessage(EventId = 5006, EventName = "IncomingRefused", Level = LogLevel.Warning, Message = "Peer {Id}: refused a connection: {Reason} ({Unlogged} more refused since the last such line)")]
    public static partial void IncomingRefused(ILogger logger, int id, string reason, long unlogged);

    [LoggerMessage(EventId = 5008, EventName = "PollerFailed", Level = LogLevel.Critical, Message = "Peer {Id}: the quorum transport's thread failed; the transport is stopped and delivers nothing more")]
    public static partial void PollerFailed(ILogger logger, int id, Exception exception);

    [LoggerMessage(EventId = 5007, EventName = "TransportStopped", Level = LogLevel.Information, Message = "Peer {Id}: quorum transport stopped")]
    public static partial void Stopped(ILogger logger, int id);
}
