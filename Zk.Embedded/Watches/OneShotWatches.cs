using Zk.Embedded.Api;
using Zk.Embedded.Sessions;
using Zk.Embedded.Tree;

namespace Zk.Embedded.Watches;

/// <summary>Registering one-shot watches for reads, so that no change after the read is missed and none before it is reported.</summary>
internal static class OneShotWatches
{
    /// <summary>
    /// Registers a one-shot watch for a read that saw <paramref name="seen"/> (null: no node) in <paramref name="readState"/>,
    /// then looks for a change it may have missed: if the triggers of a newer change ran before the watch was in place
    /// (<paramref name="firingState"/>, read after the registration, is ahead of the read), the change is found by
    /// comparing the node and fired here. The watch behaves as if it had been registered at the read.
    /// </summary>
    /// <remarks>
    /// Why no change is missed. The publisher (Publisher.Publish) writes FiringState, then runs the change's
    /// triggers, which look the path up in the <see cref="WatchManager"/>; this method adds the watch, then reads
    /// FiringState. Each side is a store followed by a load of what the other side stores, with a full fence between
    /// them (here, and at the top of <see cref="WatchManager.Trigger"/>), so at least one side sees the other's store:
    /// the trigger finds the watch, or this compare sees the change (or both). A volatile write then a volatile read
    /// would not do: they may be reordered (x86 store buffers allow exactly that), and both could miss.
    /// When both see it, the watch still fires once: firing removes the entry under its path's lock, and
    /// <see cref="WatchManager.TryFireOneShot"/> fires only an entry that is still there and older than the change.
    /// </remarks>
    public static void Register(WatchManager watches, ServerSession session, string path, WatchKinds kind, TreeState readState, ZNode? seen, Func<TreeState> firingState) =>
        new Registration(watches, session, path, kind, readState, seen, firingState).Run();

    /// <summary>One registration, as a value so the test seams can take over its steps (a delegate only when a seam is set).</summary>
    private readonly record struct Registration(WatchManager Watches, ServerSession Session, string Path, WatchKinds Kind, TreeState ReadState, ZNode? Seen, Func<TreeState> FiringState)
    {
        public void Run()
        {
            if (Watches.DeferOneShotAdd is not { } defer || !defer(Path, AddThenCompare))
            {
                AddThenCompare();
            }
        }

        private void AddThenCompare()
        {
            Watches.AddOneShot(Session, Path, Kind, ReadState.Zxid);
            if (Watches.DeferOneShotCompare is not { } defer || !defer(Path, CompareAfterAdd))
            {
                CompareAfterAdd();
            }
        }

        /// <summary>Fires the watch just added if a change newer than the read has already run its triggers.</summary>
        private void CompareAfterAdd()
        {
            Interlocked.MemoryBarrier();
            var firing = FiringState();
            if (firing.Zxid <= ReadState.Zxid)
            {
                return;
            }

            var now = firing.Find(Path);
            var type = Kind == WatchKinds.Child ? ChildChange(Seen, now) : DataChange(Seen, now);
            if (type is { } changed)
            {
                Watches.TryFireOneShot(Session, Path, Kind, changed, firing.Zxid);
            }
        }
    }

    private static EventType? DataChange(ZNode? seen, ZNode? now)
    {
        if (seen is null)
        {
            return now is null ? null : EventType.NodeCreated;
        }

        if (now is null || now.Czxid != seen.Czxid)
        {
            return EventType.NodeDeleted;
        }

        return now.Mzxid != seen.Mzxid ? EventType.NodeDataChanged : null;
    }

    private static EventType? ChildChange(ZNode? seen, ZNode? now)
    {
        if (seen is null)
        {
            return null;
        }

        if (now is null || now.Czxid != seen.Czxid)
        {
            return EventType.NodeDeleted;
        }

        return now.Pzxid != seen.Pzxid ? EventType.NodeChildrenChanged : null;
    }
}
