using Microsoft.Extensions.Logging;

namespace Zk.Embedded.Recipes;

/// <summary>Log messages of the recipes. Ids 8000-8099; event names are contract.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 8000, EventName = "LockAcquired", Level = LogLevel.Information,
        Message = "Acquired {LockPath} as {NodePath} (fencing token 0x{FencingToken:x})")]
    public static partial void LockAcquired(ILogger logger, string lockPath, string nodePath, long fencingToken);

    [LoggerMessage(EventId = 8001, EventName = "LockReleased", Level = LogLevel.Information,
        Message = "Released {LockPath} ({NodePath}, fencing token 0x{FencingToken:x}, {State} before)")]
    public static partial void LockReleased(ILogger logger, string lockPath, string nodePath, long fencingToken, HoldState state);

    [LoggerMessage(EventId = 8002, EventName = "HoldSuspended", Level = LogLevel.Warning,
        Message = "{NodePath} (fencing token 0x{FencingToken:x}) is suspended: the connection is lost; it is lost unless the session reconnects within {SessionTimeout}")]
    public static partial void HoldSuspended(ILogger logger, string nodePath, long fencingToken, TimeSpan sessionTimeout);

    [LoggerMessage(EventId = 8003, EventName = "HoldResumed", Level = LogLevel.Information,
        Message = "{NodePath} (fencing token 0x{FencingToken:x}) is held again: the session reconnected")]
    public static partial void HoldResumed(ILogger logger, string nodePath, long fencingToken);

    [LoggerMessage(EventId = 8004, EventName = "HoldLost", Level = LogLevel.Warning,
        Message = "Lost {NodePath} (fencing token 0x{FencingToken:x}): {Reason}")]
    public static partial void HoldLost(ILogger logger, string nodePath, long fencingToken, string? reason);

    [LoggerMessage(EventId = 8005, EventName = "LeadershipGained", Level = LogLevel.Information,
        Message = "{ParticipantId} leads {LatchPath} ({NodePath}, fencing token 0x{FencingToken:x})")]
    public static partial void LeadershipGained(ILogger logger, string participantId, string latchPath, string nodePath, long fencingToken);

    [LoggerMessage(EventId = 8006, EventName = "LeadershipEnded", Level = LogLevel.Information,
        Message = "{ParticipantId} no longer leads {LatchPath} ({NodePath}, fencing token 0x{FencingToken:x})")]
    public static partial void LeadershipEnded(ILogger logger, string participantId, string latchPath, string nodePath, long fencingToken);

    [LoggerMessage(EventId = 8007, EventName = "LatchStopped", Level = LogLevel.Warning,
        Message = "The latch of {ParticipantId} on {LatchPath} stopped contending; start a new latch on a new session")]
    public static partial void LatchStopped(ILogger logger, Exception exception, string participantId, string latchPath);

    [LoggerMessage(EventId = 8008, EventName = "CacheReloadFailed", Level = LogLevel.Warning,
        Message = "Reloading the cache of {Path} failed; it keeps its last view and tries again on the next event or reconnect")]
    public static partial void CacheReloadFailed(ILogger logger, Exception exception, string path);

    [LoggerMessage(EventId = 8009, EventName = "CacheReloadRecovered", Level = LogLevel.Information,
        Message = "Reloading the cache of {Path} succeeded again after a failure")]
    public static partial void CacheReloadRecovered(ILogger logger, string path);

    [LoggerMessage(EventId = 8010, EventName = "RetryGaveUp", Level = LogLevel.Information,
        Message = "Gave up retrying a call after ConnectionLoss: the session 0x{SessionId:x} ended ({State})")]
    public static partial void RetryGaveUp(ILogger logger, long sessionId, Api.SessionState state);

    [LoggerMessage(EventId = 8011, EventName = "NodeLeftBehind", Level = LogLevel.Warning,
        Message = "Could not delete {Path}: no connection for twice the session timeout; the ephemeral node goes with its session")]
    public static partial void NodeLeftBehind(ILogger logger, string path);

    [LoggerMessage(EventId = 8012, EventName = "WatchLeftBehind", Level = LogLevel.Debug,
        Message = "Could not remove the watch on {Path} ({Code}); it goes when it fires or when the session ends")]
    public static partial void WatchLeftBehind(ILogger logger, string path, Api.ZkErrorCode code);

    [LoggerMessage(EventId = 8013, EventName = "CallbackFailed", Level = LogLevel.Warning,
        Message = "A callback registered on the end of {What} threw; the other callbacks ran")]
    public static partial void CallbackFailed(ILogger logger, Exception exception, string what);

    [LoggerMessage(EventId = 8014, EventName = "InstanceUnreadable", Level = LogLevel.Warning,
        Message = "Leaving {Folder}/{Name} out of the service's instances: its data is not a service instance's JSON")]
    public static partial void InstanceUnreadable(ILogger logger, string folder, string name);
}
