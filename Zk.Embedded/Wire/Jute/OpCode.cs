namespace Zk.Embedded.Wire.Jute;

/// <summary>Request and multi-op types with ZooKeeper's numbers (<c>ZooDefs.OpCode</c>); they are on the wire.</summary>
internal enum OpCode
{
    Notification = 0,
    Create = 1,
    Delete = 2,
    Exists = 3,
    GetData = 4,
    SetData = 5,
    GetAcl = 6,
    SetAcl = 7,
    GetChildren = 8,
    Sync = 9,
    Ping = 11,
    GetChildren2 = 12,
    Check = 13,
    Multi = 14,
    Create2 = 15,
    Reconfig = 16,
    CheckWatches = 17,
    RemoveWatches = 18,
    CreateContainer = 19,
    DeleteContainer = 20,
    CreateTtl = 21,
    MultiRead = 22,
    Auth = 100,
    SetWatches = 101,
    Sasl = 102,
    GetEphemerals = 103,
    GetAllChildrenNumber = 104,
    SetWatches2 = 105,
    AddWatch = 106,
    WhoAmI = 107,
    CreateSession = -10,
    CloseSession = -11,
    /// <summary>A failed op inside a multi response (<c>OpResult.ErrorResult</c>).</summary>
    Error = -1,
}

/// <summary>xids with a fixed meaning (<c>ClientCnxn</c>); every other xid is the client's and is echoed as sent.</summary>
internal static class Xids
{
    public const int Notification = -1;
    public const int Ping = -2;
    public const int Auth = -4;
    public const int SetWatches = -8;
}
