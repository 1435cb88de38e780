namespace Zk.Bench.Load;

/// <summary>What one load run does. Every number has a ceiling, so a run is bounded in memory, count and time.</summary>
internal sealed record LoadOptions
{
    /// <summary>Znodes the requests spread over: enough that sessions do not all hit one node, few enough to stay in cache.</summary>
    public const int KeyCount = 1024;

    public int Sessions { get; init; } = 8;

    public int Seconds { get; init; } = 10;

    /// <summary>Unmeasured run before each measurement, so tiered JIT and the thread pool settle first.</summary>
    public int WarmupSeconds { get; init; } = 2;

    public string Workload { get; init; } = "get";

    public int ValueBytes { get; init; } = 1024;

    /// <summary>Requests each session keeps outstanding.</summary>
    public int Inflight { get; init; } = 1;

    /// <summary>Measured runs in this process, one row each, to show the spread.</summary>
    public int Runs { get; init; } = 1;

    /// <summary>Stop after this many requests per run even if time is left.</summary>
    public int MaxOps { get; init; } = int.MaxValue;

    /// <summary>A peer with a dataDir: every write batch goes to the txn log (and is fsynced with forceSync) before it replies.</summary>
    public bool Durable { get; init; }

    /// <summary>The peer's dataDir; null with <see cref="Durable"/> means a fresh temp dir, deleted afterwards.</summary>
    public string? DataDir { get; init; }

    /// <summary>zoo.cfg forceSync: fsync each batch before replying.</summary>
    public bool ForceSync { get; init; } = true;

    /// <summary>Length of each raw fsync measurement taken before and after a durable run, on the same directory.</summary>
    public int FsyncSeconds { get; init; } = 2;

    public int Workers => Sessions * Inflight;
}
