using Zk.Embedded.Api;
using Zk.Embedded.Txns;

namespace Zk.Embedded.Storage;

/// <summary>
/// A stored txn record or snapshot failed verification. Carries where (<see cref="Location"/>: the log or the
/// snapshot file), which txn (<see cref="Zxid"/>, when known) and what (<see cref="Kind"/>), so recovery can decide
/// whether truncating is safe and an operator can see what to repair. An <see cref="IOException"/>, as Apache ZooKeeper's
/// "CRC check failed" is: what <c>zk start</c> reports without a stack trace.
/// </summary>
internal sealed class StorageCorruptionException(CorruptionKind kind, string location, Zxid? zxid, string detail, Exception? inner = null)
    : IOException(Describe(kind, location, zxid, detail), inner)
{
    public CorruptionKind Kind { get; } = kind;

    public string Location { get; } = location;

    /// <summary>What is wrong, without the location and zxid.</summary>
    public string Detail { get; } = detail;

    /// <summary>The zxid of the bad record (its key in the log), or null when the damage hides it.</summary>
    public Zxid? Zxid { get; } = zxid;

    /// <summary>What an operator can do about damage that stops a start; the files are left as they were found.</summary>
    public const string WhatToDo =
        "The files are left as they were found. Restore this peer's dataDir and dataLogDir from a backup (or, in an ensemble, " +
        "let it resync from the others with an empty dataDir); to start from what precedes the damage instead, move the damaged file aside, " +
        "knowing that the acknowledged txns in it are then lost.";

    private static string Describe(CorruptionKind kind, string location, Zxid? zxid, string detail) =>
        zxid is { } z
            ? $"{location}: txn at zxid {z} is corrupt ({kind}): {detail}"
            : $"{location}: corrupt ({kind}): {detail}";
}
