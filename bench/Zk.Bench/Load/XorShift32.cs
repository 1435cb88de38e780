namespace Zk.Bench.Load;

/// <summary>xorshift32: a deterministic stream per worker, free of shared state and cheap next to what it picks.</summary>
internal struct XorShift32(int seed)
{
    private uint _state = (uint)seed * 2654435761u | 1u;

    public uint Next()
    {
        var x = _state;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        _state = x;
        return x;
    }
}
