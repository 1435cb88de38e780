using Microsoft.Extensions.Logging;

namespace Zk.Embedded.Wire;

/// <summary>Log messages of the client port. Ids 2000-2099; event names are contract.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 2000, EventName = "ClientPortListening", Level = LogLevel.Information, Message = "Client port listening on {EndPoint}")]
    public static partial void Listening(ILogger logger, System.Net.EndPoint endPoint);

    [LoggerMessage(EventId = 2001, EventName = "FrameTooLarge", Level = LogLevel.Warning,
        Message = "Len error: a frame from {Remote} is larger than jute.maxbuffer ({MaxBytes} bytes) or negative; closing that connection")]
    public static partial void FrameTooLarge(ILogger logger, System.Net.EndPoint? remote, int maxBytes);

    [LoggerMessage(EventId = 2002, EventName = "BadFrame", Level = LogLevel.Warning, Message = "Undecodable {What} from {Remote}; closing that connection")]
    public static partial void BadFrame(ILogger logger, string what, System.Net.EndPoint? remote);

    [LoggerMessage(EventId = 2003, EventName = "TooManyConnections", Level = LogLevel.Warning,
        Message = "Too many connections from {Address} - max is {Max}; closing the new one")]
    public static partial void TooManyConnections(ILogger logger, System.Net.IPAddress address, int max);

    [LoggerMessage(EventId = 2004, EventName = "SessionRefused", Level = LogLevel.Information, Message = "Refusing session {SessionId} from {Remote}: {Reason}")]
    public static partial void SessionRefused(ILogger logger, Api.SessionId sessionId, System.Net.EndPoint? remote, string reason);

    [LoggerMessage(EventId = 2005, EventName = "SessionEstablished", Level = LogLevel.Debug, Message = "Session {SessionId} established with {Remote}, timeout {TimeoutMs} ms")]
    public static partial void SessionEstablished(ILogger logger, Api.SessionId sessionId, System.Net.EndPoint? remote, int timeoutMs);

    [LoggerMessage(EventId = 2006, EventName = "ConnectionFailed", Level = LogLevel.Debug, Message = "Connection from {Remote} ended with an error")]
    public static partial void ConnectionFailed(ILogger logger, Exception exception, System.Net.EndPoint? remote);

    [LoggerMessage(EventId = 2007, EventName = "UnknownOpcode", Level = LogLevel.Warning, Message = "Unknown opcode {OpCode} from session {SessionId}; answering Unimplemented and closing the connection")]
    public static partial void UnknownOpcode(ILogger logger, int opCode, Api.SessionId sessionId);

    [LoggerMessage(EventId = 2008, EventName = "SessionlessConnectionClosed", Level = LogLevel.Information,
        Message = "Closing the connection from {Remote}: no session within {TimeoutMs} ms (nio.sessionlessCnxnTimeout)")]
    public static partial void SessionlessConnectionClosed(ILogger logger, System.Net.EndPoint? remote, double timeoutMs);

    [LoggerMessage(EventId = 2009, EventName = "UndecodableRequest", Level = LogLevel.Warning, Message = "Undecodable {What} request from {Remote}; answering MarshallingError")]
    public static partial void UndecodableRequest(ILogger logger, string what, System.Net.EndPoint? remote);
}
