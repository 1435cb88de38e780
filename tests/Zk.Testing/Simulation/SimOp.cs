using Zk.Embedded.Api;

namespace Zk.Testing.Simulation;

internal enum SimOpKind { CreateSession, CloseSession, SetData, CreateSequential, Multi, Ephemeral, Read, SyncRead, LinearRead, Children }

/// <summary>How an operation ended, as its client saw it.</summary>
internal enum SimOutcome
{
    Pending,
    /// <summary>Succeeded: <see cref="SimOp.Zxid"/> is the write's zxid or the state a read saw.</summary>
    Ok,
    /// <summary>Refused with BadVersion: it changed nothing.</summary>
    BadVersion,
    /// <summary>ConnectionLoss: the write may or may not have been committed (Jepsen's :info).</summary>
    Unknown,
    /// <summary>Refused with SessionExpired (the leader no longer knows the session): it changed nothing.</summary>
    SessionExpired,
    /// <summary>Refused with SessionMoved (the leader knows the session attached to another member): it changed nothing.</summary>
    SessionMoved,
}

/// <summary>One client operation in the recorded history: invoked and returned at scheduler steps (virtual time).</summary>
internal sealed class SimOp
{
    public required int Id { get; init; }
    public required int Client { get; init; }
    public required long Session { get; init; }
    public required SimOpKind Kind { get; init; }
    /// <summary>The register (setData, multi, reads) or parent (creates) it works on.</summary>
    public string Path { get; init; } = "";
    public int ExpectedVersion { get; init; }
    /// <summary>The value written; unique in a run, so a read names the write it saw.</summary>
    public string Data { get; init; } = "";
    public required long Invoke { get; init; }
    public long Return { get; set; } = long.MaxValue;
    public SimOutcome Outcome { get; set; }
    public Zxid Zxid { get; set; }
    /// <summary>For reads: what was read (version −1: no such node).</summary>
    public int ReadVersion { get; set; }
    public string ReadData { get; set; } = "";
    /// <summary>For a children read: the names it listed.</summary>
    public string[] ReadChildren { get; set; } = [];
    /// <summary>The connection that answered and where the answer stands among what the client received on it.</summary>
    public int Connection { get; set; }
    public long ReplySeq { get; set; }
    /// <summary>For a multi: the queue its sequential create goes under.</summary>
    public string? Queue { get; init; }
    /// <summary>For creates and multis: the sequential node made, named as soon as a leader proposed it (so also for one in doubt).</summary>
    public string? CreatedPath { get; set; }
    /// <summary>Answered by the leader without a txn: it waits for the state the leader checked, <see cref="Zxid"/>.</summary>
    public bool NoTxn { get; set; }
    /// <summary>Answered without a txn with BadVersion (otherwise Ok: a close of a session already gone).</summary>
    public bool Refused { get; set; }

    public bool IsWrite => Kind is not (SimOpKind.Read or SimOpKind.SyncRead or SimOpKind.LinearRead or SimOpKind.Children);

    /// <summary>Writes to the register at <see cref="Path"/>, conditional on <see cref="ExpectedVersion"/>.</summary>
    public bool WritesRegister => Kind is SimOpKind.SetData or SimOpKind.Multi;

    public override string ToString() =>
        $"op {Id} c{Client} {Kind} {Path} v{ExpectedVersion} '{Data}' [{Invoke},{(Return == long.MaxValue ? "∞" : Return)}] {Outcome} {Zxid}"
        + (Kind is SimOpKind.Read or SimOpKind.SyncRead or SimOpKind.LinearRead ? $" read v{ReadVersion} '{ReadData}'" : "")
        + (Kind is SimOpKind.Children ? $" listed [{string.Join(',', ReadChildren)}]" : "")
        + (CreatedPath is null ? "" : $" -> {CreatedPath}");
}
