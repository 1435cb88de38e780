using Microsoft.Extensions.Logging;
using Zk.Embedded.Api;

namespace Zk.Embedded.Storage;

/// <summary>Log messages of storage. Ids 3000-3099; event names are contract.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 3000, EventName = "RecoveryStarted", Level = LogLevel.Information, Message = "Recovering from {DataDir} (txn log in {DataLogDir})")]
    public static partial void RecoveryStarted(ILogger logger, string dataDir, string dataLogDir);

    [LoggerMessage(EventId = 3001, EventName = "RecoveryFinished", Level = LogLevel.Information,
        Message = "Recovered zxid {Zxid}: {Nodes} znodes, {Sessions} sessions, snapshot {Snapshot}, {Replayed} txns replayed, in {Millis} ms")]
    public static partial void RecoveryFinished(ILogger logger, Zxid zxid, int nodes, int sessions, string snapshot, int replayed, long millis);

    [LoggerMessage(EventId = 3007, EventName = "RecoveryPhases", Level = LogLevel.Information,
        Message = "Recovery took {SnapshotMillis} ms to load the snapshot while the log opened ({OpenMillis} ms) and was read ahead, then {ReplayMillis} ms more until the log was replayed (the rest of the reading, and the applying); {Gcs} GCs paused {GcPauseMillis} ms")]
    public static partial void RecoveryPhases(ILogger logger, long openMillis, long snapshotMillis, long replayMillis, int gcs, long gcPauseMillis);

    [LoggerMessage(EventId = 3006, EventName = "RecoveryProgress", Level = LogLevel.Information,
        Message = "Recovery: {Replayed} txns replayed, at zxid {Zxid} of {LastZxid}")]
    public static partial void RecoveryProgress(ILogger logger, int replayed, Zxid zxid, Zxid lastZxid);

    [LoggerMessage(EventId = 3008, EventName = "RecoveryProgressOf", Level = LogLevel.Information,
        Message = "Recovery: {Replayed} of {Total} txns replayed, at zxid {Zxid} of {LastZxid}")]
    public static partial void RecoveryProgressOf(ILogger logger, int replayed, long total, Zxid zxid, Zxid lastZxid);

    [LoggerMessage(EventId = 3002, EventName = "SnapshotSkipped", Level = LogLevel.Warning, Message = "Skipping a snapshot that does not verify: {Reason}")]
    public static partial void SnapshotSkipped(ILogger logger, string reason);

    [LoggerMessage(EventId = 3003, EventName = "SnapshotTaken", Level = LogLevel.Information, Message = "Snapshot at zxid {Zxid} written to {Path} in {Millis} ms")]
    public static partial void SnapshotTaken(ILogger logger, Zxid zxid, string path, long millis);

    [LoggerMessage(EventId = 3004, EventName = "SnapshotFailed", Level = LogLevel.Error, Message = "Snapshot at zxid {Zxid} failed; the txn log still holds everything")]
    public static partial void SnapshotFailed(ILogger logger, Exception exception, Zxid zxid);

    [LoggerMessage(EventId = 3005, EventName = "Purged", Level = LogLevel.Information,
        Message = "Purged {Snapshots} old snapshots and {Txns} txns they cover; kept {Kept} snapshots, the log from zxid {OldestKept}")]
    public static partial void Purged(ILogger logger, int snapshots, int txns, int kept, Zxid oldestKept);

    [LoggerMessage(EventId = 3009, EventName = "PurgeFailed", Level = LogLevel.Error, Message = "Autopurge failed; the next one tries again")]
    public static partial void PurgeFailed(ILogger logger, Exception exception);
}
