using Zk.Embedded.Api;
using Zk.Embedded.Consensus;
using Zk.Embedded.Tree;
using Zk.Embedded.Txns;
using Zk.Embedded.Watches;

namespace Zk.Testing.Simulation;

/// <summary>
/// The session and watch checks of issue 14, over the committed history (replayed from genesis for its watch
/// triggers and session ends) and the client history: ephemerals of an ended session gone on every peer and in no
/// later read; a one-shot watch fires once for the first change after its read, a persistent watch once for every
/// change of its node after it was added (a recursive one: of its node and every node below, NodeChildrenChanged
/// aside), each with the change's type and zxid and before any reply on its connection that shows the change; no
/// event without a watch that explains it.
/// </summary>
internal static class SessionChecks
{
    public static void Check(History history, IReadOnlyList<ConsensusTxn> committed, IReadOnlyList<SimPeer> peers)
    {
        var replay = new SimTree();
        var triggers = new Dictionary<string, List<(Zxid Zxid, EventType Type)>>(StringComparer.Ordinal);
        var ended = new Dictionary<long, Zxid>();
        // The states watches were set again at (setWatches): the trees a rewatch's rule is checked against.
        var rewatchedAt = history.Watches.Where(w => w.Relative is not null).Select(w => w.ReadZxid).ToHashSet();
        var states = new Dictionary<Zxid, TreeState>();
        if (rewatchedAt.Contains(replay.Zxid))
            states[replay.Zxid] = replay.State;
        foreach (var txn in committed)
        {
            replay.Apply(txn);
            if (rewatchedAt.Contains(txn.Zxid))
                states[txn.Zxid] = replay.State;
            foreach (var trigger in replay.LastTriggers)
            {
                if (!triggers.TryGetValue(trigger.Path, out var list))
                    triggers[trigger.Path] = list = [];
                list.Add((txn.Zxid, trigger.Type));
            }
            if (replay.LastTxn is { Op: CloseSessionTxn } close)
                ended.TryAdd(close.SessionId.Value, txn.Zxid);
        }
        CheckEndedSessions(ended, peers);
        CheckChildrenReads(history, ended);
        CheckWatches(history, triggers, states);
    }

    /// <summary>The first change after the watch's read that fires it, if any.</summary>
    public static (Zxid Zxid, EventType Type)? Trigger(SimWatch watch, Dictionary<string, List<(Zxid Zxid, EventType Type)>> triggers)
    {
        if (!triggers.TryGetValue(watch.Path, out var changes))
            return null;
        foreach (var change in changes)
        {
            if (change.Zxid > watch.ReadZxid && Fires(watch.Kind, change.Type))
                return change;
        }
        return null;
    }

    private static bool Fires(WatchKinds kind, EventType type) => kind == WatchKinds.Child
        ? type is EventType.NodeChildrenChanged or EventType.NodeDeleted
        : type is EventType.NodeCreated or EventType.NodeDataChanged or EventType.NodeDeleted;

    private static void CheckEndedSessions(Dictionary<long, Zxid> ended, IReadOnlyList<SimPeer> peers)
    {
        foreach (var (session, zxid) in ended)
        {
            foreach (var peer in peers)
            {
                if (SimTree.EphemeralsOf(peer.Tree.State, session) > 0 || SimTree.HasSession(peer.Tree.State, session))
                    throw new ConsensusViolation($"session {session:x} ended at {zxid}, but peer {peer.Id} still holds it or {SimTree.EphemeralsOf(peer.Tree.State, session)} of its ephemerals at quiescence");
            }
        }
    }

    /// <summary>A read of the ephemerals' parent at a state past a session's end lists none of that session's nodes.</summary>
    private static void CheckChildrenReads(History history, Dictionary<long, Zxid> ended)
    {
        foreach (var op in history.Ops)
        {
            if (op.Kind != SimOpKind.Children || op.Outcome != SimOutcome.Ok || op.Path != SimTree.Ephemerals)
                continue;
            foreach (var name in op.ReadChildren)
            {
                if (ended.TryGetValue(SimTree.OwnerOfEphemeral(name), out var end) && end <= op.Zxid)
                    throw new ConsensusViolation($"{op} lists {name}, whose session ended at {end}, at or before the state it read");
            }
        }
    }

    /// <summary>Every change a watch must fire for: a one-shot watch's first, a persistent watch's all (path, zxid, type).</summary>
    private static List<(string Path, Zxid Zxid, EventType Type)> ExpectedEvents(SimWatch watch, Dictionary<string, List<(Zxid Zxid, EventType Type)>> triggers,
        Dictionary<Zxid, TreeState> states)
    {
        if (AtOnce(watch, states) is { } type)
            return [(watch.Path, watch.ReadZxid, type)];
        switch (watch.Kind)
        {
            case WatchKinds.Persistent:
                return triggers.TryGetValue(watch.Path, out var own)
                    ? [.. own.Where(c => c.Zxid > watch.ReadZxid && Standing(watch, c.Zxid)).Select(c => (watch.Path, c.Zxid, c.Type))]
                    : [];
            case WatchKinds.PersistentRecursive:
                var below = watch.Path == "/" ? "/" : watch.Path + "/";
                return [.. triggers
                    .Where(t => t.Key == watch.Path || t.Key.StartsWith(below, StringComparison.Ordinal))
                    .SelectMany(t => t.Value.Where(c => c.Zxid > watch.ReadZxid && Standing(watch, c.Zxid) && c.Type != EventType.NodeChildrenChanged).Select(c => (t.Key, c.Zxid, c.Type)))];
            default:
                return Trigger(watch, triggers) is { } first ? [(watch.Path, first.Zxid, first.Type)] : [];
        }
    }

    /// <summary>
    /// The event a one-shot watch set again by setWatches fires at once (DataTree.setWatches, modelled here apart from
    /// the code): against the state it was set at, a gone node NodeDeleted; a data watch's node changed after the
    /// client's zxid NodeDataChanged, a child watch's NodeChildrenChanged; an exist watch's node that is there
    /// NodeCreated. Null when it is registered again instead (or is persistent: those fire only for later changes).
    /// </summary>
    private static EventType? AtOnce(SimWatch watch, Dictionary<Zxid, TreeState> states)
    {
        if (watch.Relative is not { } relative || watch.Kind is not (WatchKinds.Data or WatchKinds.Child))
            return null;
        var node = states.TryGetValue(watch.ReadZxid, out var state)
            ? state.Find(watch.Path)
            : throw new ConsensusViolation($"{watch} was set again at {watch.ReadZxid}, a state no committed txn ends at");
        if (watch.Exist)
            return node is null ? null : EventType.NodeCreated;
        if (node is null)
            return EventType.NodeDeleted;
        if (watch.Kind == WatchKinds.Data)
            return node.Mzxid > relative ? EventType.NodeDataChanged : null;
        return node.Pzxid > relative ? EventType.NodeChildrenChanged : null;
    }

    /// <summary>
    /// A one-shot watch set again misses nothing: if its node changed after the read that first set it (before any
    /// reconnect: an event fired at an earlier setWatches may have been lost with its connection, and the client then
    /// sets the watch again) and before the state it was set again at, it fires at once; if it fires at once, there
    /// was such a change. The one gap is ZooKeeper's own: an exist watch whose node was created and deleted again
    /// while the client was away.
    /// </summary>
    private static void CheckRewatch(SimWatch watch, Dictionary<string, List<(Zxid Zxid, EventType Type)>> triggers, Dictionary<Zxid, TreeState> states)
    {
        if (watch.Origin is null || watch.Kind is not (WatchKinds.Data or WatchKinds.Child))
            return;
        var origin = watch.Root;
        var missed = Trigger(origin, triggers) is { } change && change.Zxid <= watch.ReadZxid ? change : ((Zxid Zxid, EventType Type)?)null;
        var atOnce = AtOnce(watch, states);
        if (missed is { } m && atOnce is null && !(watch.Exist && states[watch.ReadZxid].Find(watch.Path) is null))
            throw new ConsensusViolation($"{watch} was set again with relative zxid {watch.Relative} and fired nothing, but its node changed at {m.Zxid} ({m.Type}) after the read that set {origin}");
        if (missed is null && atOnce is { } type)
            throw new ConsensusViolation($"{watch} fired {type} at once, but its node did not change between the read that set {origin} and {watch.ReadZxid}");
    }

    /// <summary>A persistent watch still stands for a change at <paramref name="zxid"/>: not removed before its peer applied it.</summary>
    private static bool Standing(SimWatch watch, Zxid zxid) => watch.RemovedAt is not { } removed || zxid <= removed;

    private static void CheckWatches(History history, Dictionary<string, List<(Zxid Zxid, EventType Type)>> triggers, Dictionary<Zxid, TreeState> states)
    {
        var events = history.Events.ToLookup(e => e.Connection);
        var replies = history.Ops.Where(o => o.Outcome is SimOutcome.Ok or SimOutcome.BadVersion).ToLookup(o => o.Connection);
        foreach (var watch in history.Watches)
            CheckRewatch(watch, triggers, states);
        var expected = history.Watches.Select(w => (Watch: w, Changes: ExpectedEvents(w, triggers, states))).ToList();
        foreach (var (watch, changes) in expected)
        {
            foreach (var change in changes)
            {
                var fired = events[watch.Connection].Where(e => e.Path == change.Path && e.Zxid == change.Zxid).ToList();
                if (fired.Count > 1)
                    throw new ConsensusViolation($"{watch} fired {fired.Count} times for the change of {change.Path} at {change.Zxid}: {string.Join(", ", fired)}");
                if (fired is [{ } one] && one.Type != change.Type)
                    throw new ConsensusViolation($"{watch} fired {one.Type} for the change of {change.Path} at {change.Zxid}, which was {change.Type}");
                var shows = replies[watch.Connection].Where(o => o.ReplySeq > watch.Seq && o.Zxid >= change.Zxid).MinBy(o => o.ReplySeq);
                if (shows is not null && (fired.Count == 0 || fired[0].Seq > shows.ReplySeq))
                    throw new ConsensusViolation($"{watch}: the reply {shows} shows the change of {change.Path} at {change.Zxid} before the watch event {(fired.Count == 0 ? "(none)" : fired[0])}");
                if (fired.Count == 0 && watch.OpenUntil >= change.Zxid)
                    throw new ConsensusViolation($"{watch} never fired for the change of {change.Path} at {change.Zxid}, though its connection stayed open and its peer applied up to {watch.OpenUntil}");
            }
        }
        foreach (var e in history.Events)
        {
            var explained = expected.Any(x => x.Watch.Connection == e.Connection && x.Watch.Seq < e.Seq && x.Changes.Any(c => c.Path == e.Path && c.Zxid == e.Zxid));
            if (!explained)
                throw new ConsensusViolation($"event {e} fired with no watch set before it for that change");
        }
    }
}
