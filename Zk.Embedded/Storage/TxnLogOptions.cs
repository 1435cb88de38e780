namespace Zk.Embedded.Storage;

/// <summary>Options of a <see cref="TxnLog"/>; defaults as in zoo.cfg.</summary>
internal sealed record TxnLogOptions
{
    /// <summary>Test hook point: a full segment is synced and the next one ready, the log not yet moved to it.</summary>
    public const string HookRotation = "rotation";

    /// <summary>Test hook point: a sealed segment's background checkpoint is about to copy its WAL.</summary>
    public const string HookCheckpointStart = "checkpoint-start";

    /// <summary>Test hook point: a checkpoint copied and synced the data file and is about to empty the WAL.</summary>
    public const string HookCheckpointBeforeShrink = "checkpoint-before-shrink";

    /// <summary>zoo.cfg <c>forceSync</c>: fsync each batch before it is acknowledged. Off only for tests and benchmarks.</summary>
    public bool ForceSync { get; init; } = true;

    /// <summary>Sees every sync and shrink of the log's files, in order (tests).</summary>
    public Action<FileEvent>? Observer { get; init; }

    /// <summary>
    /// WAL pages (8 KiB) that trigger LiteDB's own checkpoint of a segment: 32 MB, four times LiteDB's default, and
    /// above <see cref="SegmentPages"/>, so that the active segment is normally sealed before LiteDB would checkpoint
    /// it on the write path (only a single batch larger than the difference gets there). Tests set it lower to
    /// reach an inline checkpoint; null leaves what the file has (a reader such as the log dump writes nothing).
    /// </summary>
    public int? CheckpointPages { get; init; } = 4000;

    /// <summary>
    /// WAL pages (8 KiB) after which the active segment is sealed and a new one started: 24 MB. A sealed segment is
    /// checkpointed in the background, so no write waits for a checkpoint. Smaller segments make each background
    /// checkpoint shorter; each costs a few files and an open at start-up. Tests set it low to rotate often.
    /// </summary>
    public int SegmentPages { get; init; } = 3000;

    /// <summary>
    /// Checkpoint sealed segments in the background (the peer). Off for a reader that must leave the files as it found
    /// them (<see cref="StorageDump"/>).
    /// </summary>
    public bool BackgroundCheckpoints { get; init; } = true;

    /// <summary>
    /// Called at the named points (<see cref="HookRotation"/>, ...) on the thread doing the work; crash tests stop a
    /// child process there and kill it. Null in production.
    /// </summary>
    public Action<string>? Hook { get; init; }
}
