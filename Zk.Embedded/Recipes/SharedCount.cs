using System.Buffers.Binary;
using Zk.Embedded.Api;

namespace Zk.Embedded.Recipes;

/// <summary>A value of a <see cref="SharedCount"/> with the node version it was read at, for <see cref="SharedCount.TrySetAsync"/>.</summary>
/// <param name="Value">The count.</param>
/// <param name="Version">The node's data version when read; -1 when the node did not exist.</param>
public readonly record struct VersionedCount(int Value, int Version);

/// <summary>
/// A shared 32-bit count in one znode, as Curator's <c>SharedCount</c> keeps it (4 bytes, big-endian), with
/// compare-and-set on the node's version: <see cref="TrySetAsync"/> succeeds only if nobody wrote since the read.
/// </summary>
/// <remarks>
/// Guarantees: a <see cref="TrySetAsync"/> that returns true replaced exactly the value it was given; each
/// <see cref="AddAsync"/> that returns was applied once (a compare-and-set loop). Not guaranteed: progress under
/// endless contention; exactly once in the lost-reply case <see cref="DistributedAtomicLong"/> describes.
/// </remarks>
public sealed class SharedCount
{
    private readonly IZooKeeper _zk;

    /// <summary>A count at <paramref name="path"/> on <paramref name="zk"/>; nothing is read or created until used.</summary>
    public SharedCount(IZooKeeper zk, string path)
    {
        ArgumentNullException.ThrowIfNull(zk);
        _zk = zk;
        Path = ZkPaths.Validate(path, nameof(path));
    }

    /// <summary>The count's node.</summary>
    public string Path { get; }

    /// <summary>The count and its version (0 at version -1 when the node does not exist).</summary>
    /// <exception cref="InvalidDataException">the node holds something other than 4 bytes.</exception>
    public async ValueTask<VersionedCount> GetAsync(CancellationToken cancellationToken = default)
    {
        var seen = await VersionedNode.ReadAsync(_zk, Path, cancellationToken).ConfigureAwait(false);
        return seen is { } read ? new VersionedCount(Decode(Path, read.Data), read.Stat.Version) : new VersionedCount(0, -1);
    }

    /// <summary>Sets <paramref name="value"/> if the node is still at <paramref name="previous"/>'s version (created when it was absent); false when another writer came first.</summary>
    public async ValueTask<bool> TrySetAsync(VersionedCount previous, int value, CancellationToken cancellationToken = default)
    {
        DataResult? seen = previous.Version < 0 ? null : new DataResult(Encode(previous.Value), new Stat { Version = previous.Version });
        return await VersionedNode.TryWriteAsync(_zk, Path, seen, Encode(value), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Adds <paramref name="delta"/> (wrapping on overflow) and returns the new count.</summary>
    public async ValueTask<int> AddAsync(int delta, CancellationToken cancellationToken = default)
    {
        var path = Path;
        var written = await VersionedNode.UpdateAsync(_zk, path, data => Encode(unchecked((data is { Length: > 0 } d ? Decode(path, d) : 0) + delta)), cancellationToken).ConfigureAwait(false);
        return BinaryPrimitives.ReadInt32BigEndian(written);
    }

    private static byte[] Encode(int value)
    {
        var bytes = new byte[sizeof(int)];
        BinaryPrimitives.WriteInt32BigEndian(bytes, value);
        return bytes;
    }

    private static int Decode(string path, ReadOnlyMemory<byte> data) => data.Length == sizeof(int)
        ? BinaryPrimitives.ReadInt32BigEndian(data.Span)
        : throw new InvalidDataException($"{path} holds {data.Length} bytes, not a shared count's 4 big-endian bytes");
}
