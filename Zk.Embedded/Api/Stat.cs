namespace Zk.Embedded.Api;

/// <summary>
/// A znode's metadata, field for field ZooKeeper's <c>Stat</c> (and in its jute order).
/// Times are milliseconds since the Unix epoch; zxids are the txn ids that made each change.
/// </summary>
/// <param name="Czxid">zxid of the create.</param>
/// <param name="Mzxid">zxid of the last data change (or the create).</param>
/// <param name="Ctime">create time, ms since epoch.</param>
/// <param name="Mtime">last data change time, ms since epoch.</param>
/// <param name="Version">data version: number of setData calls.</param>
/// <param name="Cversion">children version: number of child creates and deletes.</param>
/// <param name="Aversion">ACL version: number of setACL calls.</param>
/// <param name="EphemeralOwner">the owning session for an ephemeral, else 0.</param>
/// <param name="DataLength">bytes of data.</param>
/// <param name="NumChildren">number of children.</param>
/// <param name="Pzxid">zxid of the last child create or delete (or the create).</param>
public readonly record struct Stat(
    long Czxid,
    long Mzxid,
    long Ctime,
    long Mtime,
    int Version,
    int Cversion,
    int Aversion,
    long EphemeralOwner,
    int DataLength,
    int NumChildren,
    long Pzxid);
