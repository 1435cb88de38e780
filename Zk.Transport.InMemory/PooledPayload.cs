using System.Buffers;

namespace Zk.Transport.InMemory;

/// <summary>
/// One message's bytes in a rented array. Owned by the link queue while in flight, then by the receiver's
/// <see cref="Zk.Embedded.Transport.TransportEvent"/>; whoever holds it last disposes it, once (a second dispose is
/// ignored, so the array never goes back to the pool twice).
/// </summary>
internal sealed class PooledPayload : IDisposable
{
    private byte[]? _array;

    private PooledPayload(byte[] array, int length)
    {
        _array = array;
        Length = length;
    }

    public int Length { get; }

    public ReadOnlyMemory<byte> Memory => _array is { } a ? a.AsMemory(0, Length) : throw new ObjectDisposedException(nameof(PooledPayload));

    public static PooledPayload Copy(ReadOnlySpan<byte> bytes)
    {
        var array = ArrayPool<byte>.Shared.Rent(Math.Max(bytes.Length, 1));
        bytes.CopyTo(array);
        return new PooledPayload(array, bytes.Length);
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _array, null) is { } array)
            ArrayPool<byte>.Shared.Return(array);
    }
}
