namespace Zk.Embedded.Api;

/// <summary>
/// A ZooKeeper session id: the server id of the peer that created the session in the top byte, time-based bits
/// below it (<c>SessionTrackerImpl.initializeNextSessionId</c>), then one more per session that peer creates.
/// </summary>
/// <param name="Value">the id as ZooKeeper's <c>long</c>, as every client sees and sends it.</param>
public readonly record struct SessionId(long Value)
{
    /// <summary>
    /// The first id a peer hands out (before its first increment): ZooKeeper's
    /// <c>((millis &lt;&lt; 24) &gt;&gt;&gt; 8) | (serverId &lt;&lt; 56)</c>, so two peers never collide and a restarted
    /// peer starts past the ids it gave before (unless its clock went back).
    /// </summary>
    /// <param name="serverId">the peer's id (myid); only its low byte survives, as in ZooKeeper.</param>
    /// <param name="unixMillis">the peer's clock at start.</param>
    public static SessionId Initial(long serverId, long unixMillis)
    {
        var value = ((unixMillis << 24) >>> 8) | (serverId << 56);
        // ZooKeeper skips the one value that would read as the container marker owner (EphemeralType.CONTAINER_EPHEMERAL_OWNER).
        return new SessionId(value == long.MinValue ? value + 1 : value);
    }

    /// <summary>The next id after this one (what the tracker hands out next).</summary>
    public SessionId Next => new(Value + 1);

    /// <summary>ZooKeeper's own spelling in logs and four-letter words (<c>0x</c> and lower-case hex).</summary>
    public override string ToString() => $"0x{Value:x}";

    public static explicit operator long(SessionId id) => id.Value;
    public static explicit operator SessionId(long value) => new(value);
}
