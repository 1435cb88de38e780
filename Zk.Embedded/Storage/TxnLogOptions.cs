namespace Zk.Embedded.Storage;

/// <summary>Options of a <see cref="TxnLog"/>; defaults as in zoo.cfg.</summary>
internal sealed record TxnLogOptions
{
    /// <summary>Test hook point: the full store is synced, the log not yet moved to the other one.</summary>
    public const string HookRotation = "rotation";

    /// <summary>Test hook point: the background checkpoint of the store the log left is about to copy its WAL.</summary>
    public const string HookCheckpointStart = "checkpoint-start";

    /// <summary>Test hook point: a checkpoint copied and synced the data file and is about to empty the WAL.</summary>
    public const string HookCheckpointBeforeShrink = "checkpoint-before-shrink";

    /// <summary>Test hook point: one store's part of a truncation is done and synced, the other's may follow.</summary>
    public const string HookTruncateStep = "truncate-step";

    /// <summary>Test hook point: one store's part of a purge is done and synced, the other's may follow.</summary>
    public const string HookPurgeStep = "purge-step";

    /// <summary>Test hook point: a sync has read how far the log is written and is about to sync the WAL.</summary>
    public const string HookSyncStart = "sync-start";

    /// <summary>zoo.cfg <c>forceSync</c>: fsync each batch before it is acknowledged. Off only for tests and benchmarks.</summary>
    public bool ForceSync { get; init; } = true;

    /// <summary>Sees every sync and shrink of the log's files, in order (tests).</summary>
    public Action<FileEvent>? Observer { get; init; }

    /// <summary>
    /// WAL pages (8 KiB) after which the log moves to its other store and checkpoints the one it left in the
    /// background: 32 MB. A checkpoint copies the WAL into the data file under LiteDB's exclusive lock (~35–45 ms for
    /// 32 MB here), which used to stop every write; now no write waits for one unless the background checkpoint falls
    /// four times this far behind (then LiteDB's own trigger checkpoints inline). Tests set it lower to move sooner;
    /// null leaves what the files have and never moves (a reader such as the log dump writes nothing).
    /// </summary>
    public int? CheckpointPages { get; init; } = 4000;

    /// <summary>
    /// Called at the named points (<see cref="HookRotation"/>, ...) on the thread doing the work; crash tests stop a
    /// child process there and kill it. Null in production.
    /// </summary>
    public Action<string>? Hook { get; init; }
}
