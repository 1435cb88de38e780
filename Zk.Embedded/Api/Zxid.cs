namespace Zk.Embedded.Api;

/// <summary>
/// A ZooKeeper transaction id: the leader's epoch in the high 32 bits, a counter within that epoch in the low 32
/// (<c>ZxidUtils.makeZxid</c>). Ordered as the 64-bit value, so a later epoch always sorts after an earlier one.
/// </summary>
/// <param name="Value">the zxid as ZooKeeper's <c>long</c>: <c>(epoch &lt;&lt; 32) | counter</c>.</param>
public readonly record struct Zxid(long Value) : IComparable<Zxid>
{
    /// <summary>Builds (epoch, counter).</summary>
    public Zxid(uint epoch, uint counter) : this((long)(((ulong)epoch << 32) | counter)) { }

    /// <summary>The epoch of the leader that issued this zxid.</summary>
    public uint Epoch => (uint)((ulong)Value >> 32);

    /// <summary>The position within the epoch; a new leader's first txn is counter 1.</summary>
    public uint Counter => (uint)Value;

    /// <inheritdoc/>
    public int CompareTo(Zxid other) => Value.CompareTo(other.Value);

    /// <summary>ZooKeeper's own spelling in logs and four-letter words.</summary>
    public override string ToString() => $"0x{Value:x}";

    public static bool operator <(Zxid left, Zxid right) => left.Value < right.Value;
    public static bool operator >(Zxid left, Zxid right) => left.Value > right.Value;
    public static bool operator <=(Zxid left, Zxid right) => left.Value <= right.Value;
    public static bool operator >=(Zxid left, Zxid right) => left.Value >= right.Value;

    public static explicit operator long(Zxid zxid) => zxid.Value;
    public static explicit operator Zxid(long value) => new(value);
}
