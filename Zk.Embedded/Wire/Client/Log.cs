using Microsoft.Extensions.Logging;
using Zk.Embedded.Api;

namespace Zk.Embedded.Wire.Client;

/// <summary>Log messages of the wire client. Ids 2100-2199; event names are contract.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 2100, EventName = "ClientConnectFailed", Level = LogLevel.Information, Message = "Could not connect to {Host}:{Port}: {Reason}")]
    public static partial void ConnectFailed(ILogger logger, string host, int port, string reason);

    [LoggerMessage(EventId = 2101, EventName = "ClientSessionEstablished", Level = LogLevel.Information,
        Message = "Session 0x{SessionId:x} established on {Server}, negotiated timeout {TimeoutMs} ms")]
    public static partial void SessionEstablished(ILogger logger, long sessionId, string server, int timeoutMs);

    [LoggerMessage(EventId = 2102, EventName = "ClientConnectionLost", Level = LogLevel.Information,
        Message = "Connection of session 0x{SessionId:x} to {Server} lost ({Reason}); reconnecting")]
    public static partial void ConnectionLost(ILogger logger, long sessionId, string server, string reason);

    [LoggerMessage(EventId = 2103, EventName = "ClientSessionExpired", Level = LogLevel.Warning,
        Message = "Unable to reconnect to ZooKeeper service, session 0x{SessionId:x} has expired")]
    public static partial void SessionExpired(ILogger logger, long sessionId);

    [LoggerMessage(EventId = 2104, EventName = "ClientWatcherFailed", Level = LogLevel.Error,
        Message = "A watcher of session 0x{SessionId:x} threw on {Type} {Path}")]
    public static partial void WatcherFailed(ILogger logger, Exception exception, long sessionId, EventType type, string? path);

    [LoggerMessage(EventId = 2105, EventName = "ClientAuthFailed", Level = LogLevel.Warning,
        Message = "Authentication of session 0x{SessionId:x} failed; the session is unusable")]
    public static partial void AuthFailed(ILogger logger, long sessionId);
}
