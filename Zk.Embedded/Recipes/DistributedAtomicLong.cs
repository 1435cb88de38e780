using System.Buffers.Binary;
using Zk.Embedded.Api;

namespace Zk.Embedded.Recipes;

/// <summary>
/// A 64-bit counter in one znode, as Curator's <c>DistributedAtomicLong</c> keeps it (8 bytes, big-endian; an absent
/// or empty node reads as 0), so .NET and Java processes can share it. Changes are compare-and-set on the node's
/// version, tried again until they win (Curator's optimistic mode, without its retry limit: cancel to stop).
/// </summary>
/// <remarks>
/// Guarantees: each <see cref="AddAsync"/> that returns was applied exactly once, in one total order with every other
/// change (the value it returns is the value right after it), also when a reply is lost with the connection: each
/// write also sets this session's marker child (docs/recipes.md, "Counters"), which says afterwards whether it
/// happened. Not guaranteed: progress under endless contention (each lost race costs a round trip); exactly once when
/// the lost write is still in flight, through the server the session left, when the marker is read.
/// </remarks>
public sealed class DistributedAtomicLong
{
    private readonly IZooKeeper _zk;

    /// <summary>A counter at <paramref name="path"/> on <paramref name="zk"/>; nothing is read or created until used.</summary>
    public DistributedAtomicLong(IZooKeeper zk, string path)
    {
        ArgumentNullException.ThrowIfNull(zk);
        _zk = zk;
        Path = ZkPaths.Validate(path, nameof(path));
    }

    /// <summary>The counter's node.</summary>
    public string Path { get; }

    /// <summary>The current value (0 when the node does not exist).</summary>
    /// <exception cref="InvalidDataException">the node holds something other than 0 or 8 bytes.</exception>
    public async ValueTask<long> GetAsync(CancellationToken cancellationToken = default) =>
        Decode(Path, (await VersionedNode.ReadAsync(_zk, Path, cancellationToken).ConfigureAwait(false))?.Data);

    /// <summary>Creates the node with <paramref name="value"/> when it does not exist (Curator's <c>initialize</c>); false when it did.</summary>
    public ValueTask<bool> InitializeAsync(long value, CancellationToken cancellationToken = default) =>
        VersionedNode.TryWriteAsync(_zk, Path, null, Encode(value), cancellationToken);

    /// <summary>Sets <paramref name="value"/> if the counter holds <paramref name="expected"/>; false otherwise (and when the node does not exist, as Curator).</summary>
    public async ValueTask<bool> CompareAndSetAsync(long expected, long value, CancellationToken cancellationToken = default)
    {
        var seen = await VersionedNode.ReadAsync(_zk, Path, cancellationToken).ConfigureAwait(false);
        return seen is { } read && Decode(Path, read.Data) == expected
            && await VersionedNode.TryWriteAsync(_zk, Path, read, Encode(value), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Adds <paramref name="delta"/> (wrapping on overflow, as Java's long) and returns the new value.</summary>
    public async ValueTask<long> AddAsync(long delta, CancellationToken cancellationToken = default)
    {
        var path = Path;
        var written = await VersionedNode.UpdateAsync(_zk, path, data => Encode(unchecked(Decode(path, data) + delta)), cancellationToken).ConfigureAwait(false);
        return BinaryPrimitives.ReadInt64BigEndian(written);
    }

    /// <summary>Adds one and returns the new value.</summary>
    public ValueTask<long> IncrementAsync(CancellationToken cancellationToken = default) => AddAsync(1, cancellationToken);

    internal static byte[] Encode(long value)
    {
        var bytes = new byte[sizeof(long)];
        BinaryPrimitives.WriteInt64BigEndian(bytes, value);
        return bytes;
    }

    private static long Decode(string path, ReadOnlyMemory<byte>? data) => data is not { Length: > 0 } bytes ? 0
        : bytes.Length == sizeof(long) ? BinaryPrimitives.ReadInt64BigEndian(bytes.Span)
        : throw new InvalidDataException($"{path} holds {bytes.Length} bytes, not a counter's 8 big-endian bytes");
}
