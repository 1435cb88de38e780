using System.Collections.Concurrent;
using Zk.Embedded.Api;
using Zk.Embedded.Sessions;
using Zk.Embedded.Tree;
using Zk.Embedded.Txns;

namespace Zk.Embedded.Watches;

/// <summary>Kinds of server-side watch one session can hold on one path.</summary>
[Flags]
internal enum WatchKinds
{
    None = 0,
    /// <summary>One-shot, from getData or exists (ZooKeeper's dataWatches).</summary>
    Data = 1,
    /// <summary>One-shot, from getChildren (childWatches).</summary>
    Child = 2,
    Persistent = 4,
    PersistentRecursive = 8,
}

/// <summary>
/// The server side of watches: which sessions watch which paths, and firing them as txns apply (the rules of
/// ZooKeeper's <c>WatchManager</c> and <c>DataTree</c>). One event per session per trigger, however many kinds match.
/// </summary>
/// <remarks>
/// One-shot watches remember the zxid of the state their read saw: a change fires them only if it is newer, so a
/// reader that raced a change never gets an event for what it already saw. Registration locks only that path's
/// entry; it never waits for the write pipeline.
/// </remarks>
internal sealed class WatchManager
{
    private readonly ConcurrentDictionary<string, PathWatches> _byPath = new(StringComparer.Ordinal);
    private int _recursiveCount;
    private int _count;

    /// <summary>Number of (session, path) watch registrations.</summary>
    public int Count => Volatile.Read(ref _count);

    // Test seams, null in production: a test runs a change at the exact point where a race would put it, instead of
    // hoping for the interleaving.

    /// <summary>
    /// Called with the path and the rest of the registration just before a one-shot watch is added: the window between
    /// a read and its registration. Returning true hands the registration over: the test runs it once the change it
    /// races in is published, so no server thread waits for that change.
    /// </summary>
    internal Func<string, Action, bool>? DeferOneShotAdd { get; set; }

    /// <summary>
    /// Called with the path and the rest of the registration once a one-shot watch is added, before the reader looks
    /// for a change it missed; returning true hands that look over, as <see cref="DeferOneShotAdd"/> does.
    /// </summary>
    internal Func<string, Action, bool>? DeferOneShotCompare { get; set; }

    /// <summary>Called on the publishing thread with the path of each change, before its watches fire.</summary>
    internal Action<string>? BeforeTrigger { get; set; }

    /// <summary>Adds a one-shot watch for a read that saw the state at <paramref name="readZxid"/>.</summary>
    public void AddOneShot(ServerSession session, string path, WatchKinds kind, Zxid readZxid) => Update(session, path, kind, readZxid);

    public void AddPersistent(ServerSession session, string path, AddWatchMode mode) =>
        Update(session, path, mode == AddWatchMode.PersistentRecursive ? WatchKinds.PersistentRecursive : WatchKinds.Persistent, new Zxid(long.MaxValue));

    /// <summary>
    /// Fires the one-shot <paramref name="kind"/> watch of a session if it is still there and older than the change:
    /// used by a reader that registered after the change's triggers ran. Fire-once: the entry is removed under its
    /// path's lock by whichever of this and <see cref="Trigger"/> comes first, and the other finds it gone.
    /// </summary>
    public bool TryFireOneShot(ServerSession session, string path, WatchKinds kind, EventType type, Zxid changeZxid)
    {
        if (!_byPath.TryGetValue(path, out var watches))
        {
            return false;
        }

        lock (watches)
        {
            var entry = watches.Find(session);
            if (entry is null || (entry.Kinds & kind) == 0 || ReadZxid(entry, kind) >= changeZxid)
            {
                return false;
            }

            RemoveKinds(watches, entry, kind, path);
        }

        session.Sink?.OnWatchEvent(new WatchedEvent(type, KeeperState.SyncConnected, path) { Zxid = changeZxid.Value });
        return true;
    }

    /// <summary>Fires the watches a change triggers. Called by the applying thread, in zxid order.</summary>
    public void Trigger(WatchTrigger trigger, Zxid zxid)
    {
        BeforeTrigger?.Invoke(trigger.Path);
        // The publisher has just written FiringState; this fence keeps that store ahead of the lookups below, so a
        // reader registering at the same time sees the change if this trigger misses its watch (OneShotWatches.Register).
        Interlocked.MemoryBarrier();
        if (_byPath.IsEmpty)
        {
            return;
        }

        List<ServerSession>? notify = null;
        var oneShot = trigger.Type switch
        {
            EventType.NodeCreated or EventType.NodeDataChanged => WatchKinds.Data,
            EventType.NodeDeleted => WatchKinds.Data | WatchKinds.Child,
            EventType.NodeChildrenChanged => WatchKinds.Child,
            _ => WatchKinds.None,
        };

        if (_byPath.TryGetValue(trigger.Path, out var watches))
        {
            lock (watches)
            {
                for (var i = watches.Entries.Count - 1; i >= 0; i--)
                {
                    var entry = watches.Entries[i];
                    var fired = entry.Kinds & oneShot;
                    if ((fired & WatchKinds.Data) != 0 && entry.DataReadZxid >= zxid)
                    {
                        fired &= ~WatchKinds.Data;
                    }

                    if ((fired & WatchKinds.Child) != 0 && entry.ChildReadZxid >= zxid)
                    {
                        fired &= ~WatchKinds.Child;
                    }

                    var persistent = (entry.Kinds & WatchKinds.Persistent) != 0
                        || ((entry.Kinds & WatchKinds.PersistentRecursive) != 0 && trigger.Type != EventType.NodeChildrenChanged);
                    if (fired != 0)
                    {
                        RemoveKinds(watches, entry, fired, trigger.Path);
                    }

                    if (fired != 0 || persistent)
                    {
                        AddDistinct(ref notify, entry.Session);
                    }
                }
            }
        }

        if (trigger.Type != EventType.NodeChildrenChanged && Volatile.Read(ref _recursiveCount) > 0)
        {
            var path = trigger.Path;
            while (path.Length > 1)
            {
                path = PathRules.Parent(path);
                if (_byPath.TryGetValue(path, out var ancestor))
                {
                    lock (ancestor)
                    {
                        foreach (var entry in ancestor.Entries)
                        {
                            if ((entry.Kinds & WatchKinds.PersistentRecursive) != 0)
                            {
                                AddDistinct(ref notify, entry.Session);
                            }
                        }
                    }
                }
            }
        }

        if (notify is null)
        {
            return;
        }

        var watchedEvent = new WatchedEvent(trigger.Type, KeeperState.SyncConnected, trigger.Path) { Zxid = zxid.Value };
        foreach (var session in notify)
        {
            session.Sink?.OnWatchEvent(watchedEvent);
        }
    }

    /// <summary>
    /// Removes (or, with <paramref name="checkOnly"/>, looks for) the session's watches of a type on a path.
    /// False when there is none: the caller answers NoWatcher.
    /// </summary>
    public bool Remove(ServerSession session, string path, WatcherType type, bool checkOnly)
    {
        if (!_byPath.TryGetValue(path, out var watches))
        {
            return false;
        }

        // DataTree.removeWatch / containsWatcher: each type names exactly one kind of watch, Any names all.
        var kinds = type switch
        {
            WatcherType.Children => WatchKinds.Child,
            WatcherType.Data => WatchKinds.Data,
            WatcherType.Persistent => WatchKinds.Persistent,
            WatcherType.PersistentRecursive => WatchKinds.PersistentRecursive,
            _ => WatchKinds.Data | WatchKinds.Child | WatchKinds.Persistent | WatchKinds.PersistentRecursive,
        };
        lock (watches)
        {
            var entry = watches.Find(session);
            if (entry is null || (entry.Kinds & kinds) == 0)
            {
                return false;
            }

            if (!checkOnly)
            {
                RemoveKinds(watches, entry, entry.Kinds & kinds, path);
            }

            return true;
        }
    }

    /// <summary>Drops every watch of an ended session.</summary>
    public void RemoveSession(ServerSession session)
    {
        foreach (var path in session.WatchedPaths.Keys)
        {
            if (_byPath.TryGetValue(path, out var watches))
            {
                lock (watches)
                {
                    var entry = watches.Find(session);
                    if (entry is not null)
                    {
                        RemoveKinds(watches, entry, entry.Kinds, path);
                    }
                }
            }
        }
    }

    /// <summary>Drops every watch of every session: all of this member's client connections ended at once.</summary>
    public void RemoveAll()
    {
        foreach (var (path, watches) in _byPath)
        {
            lock (watches)
            {
                for (var i = watches.Entries.Count - 1; i >= 0; i--)
                {
                    var entry = watches.Entries[i];
                    RemoveKinds(watches, entry, entry.Kinds, path);
                }
            }
        }
    }

    /// <summary>Each watched path with the ids of the sessions watching it (for the wchp/wchc four-letter words).</summary>
    public IEnumerable<(string Path, SessionId[] Sessions)> Snapshot()
    {
        foreach (var (path, watches) in _byPath)
        {
            SessionId[] ids;
            lock (watches)
            {
                ids = watches.Entries.Select(e => e.Session.SessionId).ToArray();
            }

            if (ids.Length > 0)
            {
                yield return (path, ids);
            }
        }
    }

    private static Zxid ReadZxid(Entry entry, WatchKinds kind) => kind == WatchKinds.Child ? entry.ChildReadZxid : entry.DataReadZxid;

    private static void AddDistinct(ref List<ServerSession>? list, ServerSession session)
    {
        list ??= [];
        if (!list.Contains(session))
        {
            list.Add(session);
        }
    }

    private void Update(ServerSession session, string path, WatchKinds kind, Zxid readZxid)
    {
        while (true)
        {
            var watches = _byPath.GetOrAdd(path, static _ => new PathWatches());
            lock (watches)
            {
                if (watches.Dead)
                {
                    continue;
                }

                var entry = watches.Find(session);
                if (entry is null)
                {
                    entry = new Entry(session);
                    watches.Entries.Add(entry);
                    session.WatchedPaths.TryAdd(path, 0);
                }

                if ((entry.Kinds & kind) == 0)
                {
                    Interlocked.Increment(ref _count);
                    if (kind == WatchKinds.PersistentRecursive)
                    {
                        Interlocked.Increment(ref _recursiveCount);
                    }
                }

                entry.Kinds |= kind;
                if (kind == WatchKinds.Data)
                {
                    entry.DataReadZxid = readZxid;
                }
                else if (kind == WatchKinds.Child)
                {
                    entry.ChildReadZxid = readZxid;
                }

                return;
            }
        }
    }

    /// <summary>Call with the path's lock held.</summary>
    private void RemoveKinds(PathWatches watches, Entry entry, WatchKinds kinds, string path)
    {
        foreach (var kind in (ReadOnlySpan<WatchKinds>)[WatchKinds.Data, WatchKinds.Child, WatchKinds.Persistent, WatchKinds.PersistentRecursive])
        {
            if ((entry.Kinds & kinds & kind) != 0)
            {
                Interlocked.Decrement(ref _count);
                if (kind == WatchKinds.PersistentRecursive)
                {
                    Interlocked.Decrement(ref _recursiveCount);
                }
            }
        }

        entry.Kinds &= ~kinds;
        if (entry.Kinds != WatchKinds.None)
        {
            return;
        }

        watches.Entries.Remove(entry);
        entry.Session.WatchedPaths.TryRemove(path, out _);
        if (watches.Entries.Count == 0)
        {
            // A registration racing this removal sees Dead and retries with a fresh entry.
            watches.Dead = true;
            _byPath.TryRemove(new KeyValuePair<string, PathWatches>(path, watches));
        }
    }

    private sealed class PathWatches
    {
        public List<Entry> Entries { get; } = new(2);

        public bool Dead { get; set; }

        public Entry? Find(ServerSession session)
        {
            foreach (var entry in Entries)
            {
                if (entry.Session == session)
                {
                    return entry;
                }
            }

            return null;
        }
    }

    private sealed class Entry(ServerSession session)
    {
        public ServerSession Session { get; } = session;

        public WatchKinds Kinds { get; set; }

        public Zxid DataReadZxid { get; set; }

        public Zxid ChildReadZxid { get; set; }
    }
}
