using Zk.Embedded.Api;

namespace Zk.Testing.History;

/// <summary>What a recorded operation does, as far as the history's checks are concerned.</summary>
public enum RecordedKind
{
    /// <summary>A create of a persistent, non-sequential znode at <see cref="RecordedOperation.Path"/>.</summary>
    Create,

    /// <summary>A delete, conditional on <see cref="RecordedOperation.Version"/> unless it is −1.</summary>
    Delete,

    /// <summary>A setData, conditional on <see cref="RecordedOperation.Version"/> unless it is −1.</summary>
    SetData,

    /// <summary>A check op inside a successful multi: the version was <see cref="RecordedOperation.Version"/>.</summary>
    Check,

    /// <summary>A getData or exists issued after the session's linearizable sync: it may not be stale.</summary>
    LinearizableRead,

    /// <summary>A plain getData or exists: ZooKeeper lets it be stale, but never older than what its session saw before.</summary>
    Read,

    /// <summary>A write the model does not follow (an ephemeral, sequential, container or TTL create): its path is left unchecked.</summary>
    Untracked,
}

/// <summary>How a recorded operation ended, as its session saw it.</summary>
public enum RecordedOutcome
{
    /// <summary>It succeeded.</summary>
    Ok,

    /// <summary>It failed with an error that says what the znode was (NoNode, NodeExists, BadVersion, NotEmpty): it changed nothing.</summary>
    Refused,

    /// <summary>The session never learned (ConnectionLoss, a timeout, the session ending under it): a write may have happened, at any later time.</summary>
    Unknown,

    /// <summary>It failed in a way that says nothing about the znode (NoAuth, bad arguments): it changed nothing and constrains nothing.</summary>
    Failed,
}

/// <summary>
/// One operation of a recorded session on one path (a multi becomes one per op, sharing its times). Times are
/// <see cref="System.Diagnostics.Stopwatch"/> timestamps of the call and of its completion.
/// </summary>
public sealed record RecordedOperation
{
    /// <summary>Order of invocation across the whole history.</summary>
    public required int Id { get; init; }

    /// <summary>The recorded session (0, 1, … in the order they were recorded).</summary>
    public required int Session { get; init; }

    /// <summary>What it does, as the checks model it.</summary>
    public required RecordedKind Kind { get; init; }

    /// <summary>The znode it works on (for a sequential create, the path asked for).</summary>
    public required string Path { get; init; }

    /// <summary>The expected version (−1: any) of a delete, setData or check.</summary>
    public int Version { get; init; } = -1;

    /// <summary>The data written or read (hex; null for a null read, or an exists that reads none).</summary>
    public string? Data { get; set; }

    /// <summary>When it was called; for a linearizable read, when its session's linearizable sync was called.</summary>
    public required long Invoke { get; init; }

    /// <summary>When it returned; <see cref="long.MaxValue"/> while pending or when its outcome is unknown (it may take effect later).</summary>
    public long Return { get; set; } = long.MaxValue;

    /// <summary>How it ended (Unknown while pending).</summary>
    public RecordedOutcome Outcome { get; set; } = RecordedOutcome.Unknown;

    /// <summary>The error of a refused or failed operation.</summary>
    public ZkErrorCode Error { get; set; }

    /// <summary>The stat returned (a setData's new stat, a read's), null for NoNode or none.</summary>
    public Stat? Stat { get; set; }

    /// <summary>One line: id, session, kind, path, version, data, outcome and stat.</summary>
    public override string ToString() =>
        $"#{Id} s{Session} {Kind} {Path}{(Version >= 0 ? $" v{Version}" : "")}{(Data is null ? "" : $" '{Data}'")} -> {Outcome}" +
        (Outcome == RecordedOutcome.Refused ? $" {Error}" : "") + (Stat is { } s ? $" (version {s.Version}, mzxid 0x{s.Mzxid:x})" : "");
}
