using Zk.Embedded.Api;
namespace Zk.Embedded.Txns;

/// <summary>What is wrong with a stored record or file. Numbers are not stored; names appear in messages.</summary>
internal enum CorruptionKind
{
    /// <summary>Fewer bytes than the fixed header needs: a torn write.</summary>
    Truncated,

    /// <summary>The stored CRC-32C differs from the one computed over the bytes.</summary>
    ChecksumMismatch,

    /// <summary>A format version this build does not read.</summary>
    UnknownFormat,

    /// <summary>The checksum matched but the content does not decode (a bug, or a foreign writer).</summary>
    Undecodable,

    /// <summary>A log record stored under one zxid holds another.</summary>
    ZxidMismatch,

    /// <summary>
    /// Txns are missing: within an epoch zxids follow one another, and the next one read is not the next zxid (a
    /// purged log under a snapshot that is gone, or a lost record).
    /// </summary>
    Gap,
}

/// <summary>
/// A txn record that does not verify or decode (<see cref="TxnCodec.Decode"/>). The codec knows no files: the log
/// wraps this in its own corruption report with where the record was, and a transport drops the message.
/// </summary>
internal sealed class TxnRecordException(CorruptionKind kind, Zxid? zxid, string detail, Exception? inner = null)
    : Exception($"txn record {(zxid is { } z ? $"{z} " : "")}is corrupt ({kind}): {detail}", inner)
{
    public CorruptionKind Kind { get; } = kind;

    /// <summary>The zxid the record was expected to hold, when known.</summary>
    public Zxid? Zxid { get; } = zxid;

    /// <summary>What is wrong.</summary>
    public string Detail { get; } = detail;
}
