namespace Zk.Embedded.Api;

/// <summary>What happened (<c>Watcher.Event.EventType</c>).</summary>
public enum EventType
{
    None = -1,
    NodeCreated = 1,
    NodeDeleted = 2,
    NodeDataChanged = 3,
    NodeChildrenChanged = 4,
    DataWatchRemoved = 5,
    ChildWatchRemoved = 6,
    PersistentWatchRemoved = 7,
}

/// <summary>The session's state as a watcher sees it (<c>Watcher.Event.KeeperState</c>).</summary>
public enum KeeperState
{
    Disconnected = 0,
    SyncConnected = 3,
    AuthFailed = 4,
    ConnectedReadOnly = 5,
    SaslAuthenticated = 6,
    Expired = -112,
    Closed = 7,
}

/// <summary>Which watches <c>removeWatches</c> removes (<c>Watcher.WatcherType</c>).</summary>
public enum WatcherType
{
    /// <summary>One-shot child watches (getChildren).</summary>
    Children = 1,
    /// <summary>One-shot data and exists watches.</summary>
    Data = 2,
    /// <summary>Every kind.</summary>
    Any = 3,
    /// <summary>Persistent watches (addWatch, Persistent mode).</summary>
    Persistent = 4,
    /// <summary>Persistent recursive watches (addWatch, PersistentRecursive mode).</summary>
    PersistentRecursive = 5,
}

/// <summary>Mode of <c>addWatch</c> (<c>AddWatchMode</c>).</summary>
public enum AddWatchMode
{
    /// <summary>Like data and child watches on the path, not removed when they fire.</summary>
    Persistent = 0,
    /// <summary>Data-type events for the path and every node under it; not removed when they fire.</summary>
    PersistentRecursive = 1,
}

/// <summary>A notification delivered to a watcher. <see cref="Path"/> is null for session state events.</summary>
public sealed record WatchedEvent(EventType Type, KeeperState State, string? Path)
{
    /// <summary>The zxid of the change, when the peer knows it; -1 otherwise.</summary>
    public long Zxid { get; init; } = -1;

    public override string ToString() => $"WatchedEvent state:{State} type:{Type} path:{Path} zxid: {Zxid}";
}

/// <summary>Receives watch notifications. Two registrations of the same delegate on one path count once, as in ZooKeeper.</summary>
public delegate void Watcher(WatchedEvent watchedEvent);
