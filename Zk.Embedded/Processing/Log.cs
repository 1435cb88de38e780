using Microsoft.Extensions.Logging;
using Zk.Embedded.Api;

namespace Zk.Embedded.Processing;

/// <summary>Log messages of the request pipeline. Ids 1000-1099; event names are contract.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 1000, EventName = "PipelineStarted", Level = LogLevel.Information, Message = "Request pipeline started at zxid {Zxid}")]
    public static partial void PipelineStarted(ILogger logger, Zxid zxid);

    [LoggerMessage(EventId = 1001, EventName = "PipelineStopped", Level = LogLevel.Information, Message = "Request pipeline stopped at zxid {Zxid}")]
    public static partial void PipelineStopped(ILogger logger, Zxid zxid);

    [LoggerMessage(EventId = 1002, EventName = "PipelineFailed", Level = LogLevel.Critical, Message = "Request pipeline stopped by an unexpected error; the peer no longer accepts writes")]
    public static partial void PipelineFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 1009, EventName = "PipelineEnded", Level = LogLevel.Information, Message = "Request pipeline ended: {Reason}")]
    public static partial void PipelineEnded(ILogger logger, string reason);

    [LoggerMessage(EventId = 1003, EventName = "SessionExpired", Level = LogLevel.Information, Message = "Expiring session {SessionId}, timeout of {TimeoutMillis} ms exceeded")]
    public static partial void SessionExpired(ILogger logger, SessionId sessionId, int timeoutMillis);

    [LoggerMessage(EventId = 1004, EventName = "ContainerRemoved", Level = LogLevel.Debug, Message = "Removing {Kind} node {Path}")]
    public static partial void ContainerRemoved(ILogger logger, string kind, string path);

    [LoggerMessage(EventId = 1005, EventName = "WatcherFailed", Level = LogLevel.Warning, Message = "A watcher of session {SessionId} threw while handling {EventType} on {Path}")]
    public static partial void WatcherFailed(ILogger logger, Exception exception, SessionId sessionId, Api.EventType eventType, string? path);

    [LoggerMessage(EventId = 1006, EventName = "SessionClosed", Level = LogLevel.Debug, Message = "Session {SessionId} closed")]
    public static partial void SessionClosed(ILogger logger, SessionId sessionId);

    [LoggerMessage(EventId = 1007, EventName = "RequestFailed", Level = LogLevel.Error, Message = "Preparing a {Request} of session {SessionId} failed; it is answered with MarshallingError and the pipeline goes on")]
    public static partial void RequestFailed(ILogger logger, Exception exception, string request, SessionId sessionId);

    [LoggerMessage(EventId = 1008, EventName = "PublishFailed", Level = LogLevel.Error, Message = "Publishing zxid {Zxid} of session {SessionId} failed while {Stage}; the pipeline goes on")]
    public static partial void PublishFailed(ILogger logger, Exception exception, string stage, Zxid zxid, SessionId sessionId);

    [LoggerMessage(EventId = 1010, EventName = "LeadershipHandlerFailed", Level = LogLevel.Error, Message = "A LeadershipChanged handler threw for the change to {Mode}; later events are still raised")]
    public static partial void LeadershipHandlerFailed(ILogger logger, Exception exception, string mode);
}
