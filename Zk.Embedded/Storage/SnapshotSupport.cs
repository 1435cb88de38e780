using System.Buffers;
using System.Collections.Immutable;
using Zk.Embedded.Api;
using Zk.Embedded.Tree;
using Zk.Embedded.Txns;

namespace Zk.Embedded.Storage;

/// <summary>
/// Rebuilds the ephemeral, container and TTL indexes of a <see cref="TreeState"/> from node owners while a snapshot
/// loads, classifying owners as <see cref="ZNode"/> does (container marker, TTL marker, else a session).
/// </summary>
internal sealed class IndexBuilder
{
    private readonly Dictionary<SessionId, ImmutableHashSet<string>.Builder> _ephemerals = new();

    public ImmutableHashSet<string>.Builder Containers { get; } = ImmutableHashSet.CreateBuilder<string>(StringComparer.Ordinal);

    public ImmutableHashSet<string>.Builder Ttls { get; } = ImmutableHashSet.CreateBuilder<string>(StringComparer.Ordinal);

    public void Add(string path, long ephemeralOwner)
    {
        if (ephemeralOwner == ZNode.ContainerOwner)
        {
            Containers.Add(path);
        }
        else if ((ephemeralOwner & ZNode.TtlMask) == ZNode.TtlMask)
        {
            Ttls.Add(path);
        }
        else if (ephemeralOwner != 0)
        {
            var session = new SessionId(ephemeralOwner);
            if (!_ephemerals.TryGetValue(session, out var owned))
            {
                owned = ImmutableHashSet.CreateBuilder<string>(StringComparer.Ordinal);
                _ephemerals.Add(session, owned);
            }

            owned.Add(path);
        }
    }

    public ImmutableDictionary<SessionId, ImmutableHashSet<string>> Ephemerals()
    {
        var result = ImmutableDictionary.CreateBuilder<SessionId, ImmutableHashSet<string>>();
        foreach (var (owner, paths) in _ephemerals)
        {
            result.Add(owner, paths.ToImmutable());
        }

        return result.ToImmutable();
    }
}

/// <summary>
/// An <see cref="IBufferWriter{T}"/> that spills to a stream in 64 KiB chunks and keeps the CRC-32C of everything
/// it wrote, so a snapshot of any size is written with bounded memory and checksummed in the same pass.
/// </summary>
internal sealed class CrcStreamWriter(Stream stream) : IBufferWriter<byte>
{
    private const int ChunkBytes = 64 * 1024;
    private byte[] _buffer = new byte[ChunkBytes];
    private int _used;
    private uint _crc = ~0u;

    /// <summary>The CRC-32C of all bytes written; valid after <see cref="Complete"/>.</summary>
    public uint Crc => ~_crc;

    public void Advance(int count) => _used += count;

    // Reserve first, then take _buffer: Reserve may replace it with a larger one, and `_buffer.AsMemory(Reserve(n))`
    // read the field before the call, handing out the old buffer. Any value over 64 KiB was then written into the
    // discarded array while the new one was advanced over zeros: the snapshot failed to decode.
    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        var offset = Reserve(sizeHint);
        return _buffer.AsMemory(offset);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        var offset = Reserve(sizeHint);
        return _buffer.AsSpan(offset);
    }

    /// <summary>Writes out what is buffered.</summary>
    public void Complete() => Spill();

    private int Reserve(int sizeHint)
    {
        var needed = Math.Max(sizeHint, 1);
        if (_buffer.Length - _used < needed)
        {
            Spill();
            if (_buffer.Length < needed)
            {
                _buffer = new byte[needed]; // one large data value; later chunks reuse it
            }
        }

        return _used;
    }

    private void Spill()
    {
        _crc = Crc32C.Update(_crc, _buffer.AsSpan(0, _used));
        stream.Write(_buffer, 0, _used);
        _used = 0;
    }
}
