namespace Zk.Embedded.Consensus;

/// <summary>
/// Where txn records that outlive a few collections are kept: copied into 1 MiB segments on the large object heap,
/// which a GC never moves. A txn is held by the core's log window (500 txns), by the in-memory store until the next
/// snapshot (snapCount txns) and, on the way, by messages; as its own array each record outlived several gen0 and gen1
/// collections and was copied by each. With three members in one process, 64 writers and 1 KiB values, a third of
/// the process's time went to GC pauses, most of it copying txn records. A segment is freed by the GC once no record
/// in it is held. Not thread-safe: each owner (a loop or a locked store) has its own.
/// </summary>
internal sealed class TxnArena
{
    /// <summary>Bytes of one segment: large enough for the large object heap (85,000 bytes and up).</summary>
    public const int SegmentBytes = 1 << 20;

    private byte[] _segment = [];
    private int _used;

    /// <summary>A copy of <paramref name="data"/> that lives as long as the returned memory is held.</summary>
    public ReadOnlyMemory<byte> Copy(ReadOnlySpan<byte> data)
    {
        // A large record gets an array of its own (on the large object heap from 85,000 bytes): a segment would
        // waste up to that much of itself.
        if (data.Length > SegmentBytes / 8)
            return data.ToArray();
        if (_segment.Length - _used < data.Length)
            (_segment, _used) = (GC.AllocateUninitializedArray<byte>(SegmentBytes), 0);
        var copy = _segment.AsMemory(_used, data.Length);
        data.CopyTo(copy.Span);
        _used += data.Length;
        return copy;
    }

    /// <summary>
    /// A copy of <paramref name="data"/> in this arena unless it already lives in an array a GC does not move (a
    /// segment, or a record large enough to have its own array there): such memory is kept as it is.
    /// </summary>
    public ReadOnlyMemory<byte> Keep(ReadOnlyMemory<byte> data) =>
        System.Runtime.InteropServices.MemoryMarshal.TryGetArray(data, out var array) && array.Array!.Length >= LargeObjectBytes
            ? data
            : Copy(data.Span);

    /// <summary>The size from which the runtime puts an array on the large object heap.</summary>
    private const int LargeObjectBytes = 85_000;
}
