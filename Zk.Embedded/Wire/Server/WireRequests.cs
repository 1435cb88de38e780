using Microsoft.Extensions.Logging;
using Zk.Embedded.Api;
using Zk.Embedded.Sessions;
using Zk.Embedded.Tree;
using Zk.Embedded.Watches;
using Zk.Embedded.Wire.Jute;
using CloseSessionRequest = Zk.Embedded.Processing.CloseSessionRequest;
using MultiRequest = Zk.Embedded.Processing.MultiRequest;
using P = Zk.Embedded.Processing;
using Reads = Zk.Embedded.Processing.Reads;
using Reply = Zk.Embedded.Processing.Reply;

namespace Zk.Embedded.Wire.Server;

/// <summary>
/// Turns one decoded request frame into a pipeline request or a read, with the answer ZooKeeper gives
/// (<c>FinalRequestProcessor</c>). Values land in <see cref="Reply.Value"/> for <see cref="WireResponses"/> to encode.
/// </summary>
internal static class WireRequests
{
    /// <summary>Starts the request; false closes the connection (an auth packet that does not decode, as in ZooKeeper).</summary>
    public static bool Start(WireConnection connection, RequestHeader header, ReadOnlySpan<byte> body)
    {
        var xid = header.Xid;
        // Reads are checked with the ids the connection has now, even when they run later behind a write
        // (ZooKeeper copies cnxn.getAuthInfo() into each request as it arrives).
        var ids = connection.AuthIds;
        var reader = new JuteReader(body, connection.Peer.Options.MaxDataBytes);
        switch (header.Type)
        {
            case OpCode.Ping:
                connection.Read(xid, OpCode.Ping, static state => Outcome(state, ZkErrorCode.Ok, null, null));
                return true;
            case OpCode.CloseSession:
                // The connection closes once the close reply is written (WireConnection.WriteReply).
                connection.Submit(xid, OpCode.CloseSession, new CloseSessionRequest(Expired: false));
                return true;
            case OpCode.Create or OpCode.Create2 or OpCode.CreateContainer:
            {
                if (!CreateRequest.TryRead(ref reader, out var r))
                {
                    return Bad(connection, header, "create");
                }

                var mode = header.Type == OpCode.CreateContainer ? CreateMode.Container : (CreateMode)r.Flags;
                connection.Submit(xid, header.Type, new P.CreateRequest(r.Path ?? "", r.Data, r.Acl ?? [], mode, -1, true));
                return true;
            }

            case OpCode.CreateTtl:
            {
                if (!CreateTtlRequest.TryRead(ref reader, out var r))
                {
                    return Bad(connection, header, "createTTL");
                }

                connection.Submit(xid, header.Type, new P.CreateRequest(r.Path ?? "", r.Data, r.Acl ?? [], (CreateMode)r.Flags, r.Ttl, true));
                return true;
            }

            case OpCode.Delete:
                return Decoded(DeleteRequest.TryRead(ref reader, out var delete), connection, header, "delete", () =>
                    connection.Submit(xid, header.Type, new P.DeleteRequest(delete.Path ?? "", delete.Version)));
            case OpCode.SetData:
                return Decoded(SetDataRequest.TryRead(ref reader, out var set), connection, header, "setData", () =>
                    connection.Submit(xid, header.Type, new P.SetDataRequest(set.Path ?? "", set.Data, set.Version)));
            case OpCode.SetAcl:
                return Decoded(SetAclRequest.TryRead(ref reader, out var setAcl), connection, header, "setACL", () =>
                    connection.Submit(xid, header.Type, new P.SetAclRequest(setAcl.Path ?? "", setAcl.Acl ?? [], setAcl.Version)));
            case OpCode.Sync:
                return Decoded(SyncRequest.TryRead(ref reader, out var sync), connection, header, "sync", () =>
                    connection.Submit(xid, header.Type, new P.SyncRequest(sync.Path ?? "")));
            case OpCode.Multi:
            {
                if (!MultiOperationRecord.TryRead(ref reader, out var multi))
                {
                    return Bad(connection, header, "multi");
                }

                var ops = new Op[multi.Ops.Count];
                for (var i = 0; i < ops.Length; i++)
                {
                    ops[i] = multi.Ops[i].Op;
                }

                connection.Submit(xid, header.Type, new MultiRequest(ops), multi.Ops);
                return true;
            }

            case OpCode.MultiRead:
            {
                if (!MultiOperationRecord.TryRead(ref reader, out var multi))
                {
                    return Bad(connection, header, "multiRead");
                }

                if (!AllReads(multi.Ops))
                {
                    // FinalRequestProcessor throws "Invalid type of readOp" for a write op, answered MarshallingError.
                    connection.Read(xid, header.Type, static state => Outcome(state, ZkErrorCode.MarshallingError, null, null));
                    return true;
                }

                connection.Read(xid, header.Type, state => Outcome(state, ZkErrorCode.Ok, null, MultiRead(state, ids, multi.Ops)));
                return true;
            }

            case OpCode.Exists:
                return Decoded(ExistsRequest.TryRead(ref reader, out var exists), connection, header, "exists", () =>
                    connection.Read(xid, header.Type, state => Exists(connection, state, exists.Path ?? "", exists.Watch)));
            case OpCode.GetData:
                return Decoded(GetDataRequest.TryRead(ref reader, out var getData), connection, header, "getData", () =>
                    connection.Read(xid, header.Type, state => GetData(connection, ids, state, getData.Path ?? "", getData.Watch)));
            case OpCode.GetChildren or OpCode.GetChildren2:
                return Decoded(GetChildrenRequest.TryRead(ref reader, out var getChildren), connection, header, "getChildren", () =>
                    connection.Read(xid, header.Type, state => GetChildren(connection, ids, state, getChildren.Path ?? "", getChildren.Watch)));
            case OpCode.GetAcl:
                return Decoded(GetAclRequest.TryRead(ref reader, out var getAcl), connection, header, "getACL", () =>
                    connection.Read(xid, header.Type, state =>
                    {
                        var error = Reads.GetAcl(state, getAcl.Path ?? "", ids, out var node);
                        return Outcome(state, error, getAcl.Path, error == ZkErrorCode.Ok ? new AclResult(Reads.VisibleAcl(node!, ids), node!.ToStat()) : null);
                    }));
            case OpCode.GetAllChildrenNumber:
                return Decoded(GetAllChildrenNumberRequest.TryRead(ref reader, out var count), connection, header, "getAllChildrenNumber", () =>
                    connection.Read(xid, header.Type, state =>
                    {
                        var error = Reads.GetChildren(state, count.Path ?? "", ids, out var node);
                        return Outcome(state, error, count.Path, error == ZkErrorCode.Ok ? node!.Descendants : null);
                    }));
            case OpCode.GetEphemerals:
                return Decoded(GetEphemeralsRequest.TryRead(ref reader, out var ephemerals), connection, header, "getEphemerals", () =>
                    connection.Read(xid, header.Type, state =>
                    {
                        var error = Reads.GetEphemerals(state, connection.Session.SessionId, ephemerals.PrefixPath ?? "/", out var paths);
                        return Outcome(state, error, ephemerals.PrefixPath, paths);
                    }));
            case OpCode.WhoAmI:
                connection.Read(xid, header.Type, state => Outcome(state, ZkErrorCode.Ok, null, Reads.WhoAmI(ids)));
                return true;
            case OpCode.AddWatch:
                return Decoded(AddWatchRequest.TryRead(ref reader, out var addWatch), connection, header, "addWatch", () =>
                    connection.Submit(xid, header.Type, new P.AddWatchRequest(addWatch.Path ?? "", addWatch.Mode)));
            case OpCode.RemoveWatches:
                return Decoded(RemoveWatchesRequest.TryRead(ref reader, out var remove), connection, header, "removeWatches", () =>
                    connection.Submit(xid, header.Type, new P.RemoveWatchesRequest(remove.Path ?? "", remove.Type, CheckOnly: false)));
            case OpCode.CheckWatches:
                return Decoded(CheckWatchesRequest.TryRead(ref reader, out var check), connection, header, "checkWatches", () =>
                    connection.Submit(xid, header.Type, new P.RemoveWatchesRequest(check.Path ?? "", check.Type, CheckOnly: true)));
            case OpCode.Auth:
            {
                if (!AuthPacket.TryRead(ref reader, out var auth))
                {
                    // ZooKeeperServer.processPacket reads the auth packet itself: an IOException there closes.
                    Log.BadFrame(connection.Peer.Logger, "auth request", connection.Remote);
                    return false;
                }

                // Handled now (later requests carry the new ids); answered in the session's order.
                var error = connection.Authenticate(auth.Scheme ?? "", auth.Auth ?? []);
                connection.Read(xid, header.Type, state => Outcome(state, error, null, null));
                return true;
            }

            case OpCode.SetWatches:
                return Decoded(SetWatches.TryRead(ref reader, out var setWatches), connection, header, "setWatches", () =>
                    StartRewatch(connection, xid, header.Type, new WatchLists(setWatches.RelativeZxid, setWatches.DataWatches, setWatches.ExistWatches, setWatches.ChildWatches, null, null)));
            case OpCode.SetWatches2:
                return Decoded(SetWatches2.TryRead(ref reader, out var setWatches2), connection, header, "setWatches2", () =>
                    StartRewatch(connection, xid, header.Type, new WatchLists(setWatches2.RelativeZxid, setWatches2.DataWatches, setWatches2.ExistWatches, setWatches2.ChildWatches, setWatches2.PersistentWatches, setWatches2.PersistentRecursiveWatches)));
            case OpCode.Reconfig:
                // Reconfig is disabled, as in a ZooKeeper without reconfigEnabled.
                connection.Read(xid, header.Type, state => Outcome(state, ZkErrorCode.ReconfigDisabled, null, null));
                return true;
            case OpCode.DeleteContainer:
                // The peer's own opcode. ZooKeeper reads its body as a bare path, so a client's jute-encoded body
                // fails path validation there with BadArguments; a bare path is refused too (docs: differences).
                connection.Read(xid, header.Type, state => Outcome(state, ZkErrorCode.BadArguments, null, null));
                return true;
            default:
                // UnimplementedRequestProcessor: Unimplemented, then the connection closes (WireConnection.WriteReply).
                Log.UnknownOpcode(connection.Peer.Logger, (int)header.Type, connection.Session.SessionId);
                connection.Read(xid, header.Type, state => Outcome(state, ZkErrorCode.Unimplemented, null, null));
                return true;
        }
    }

    private static bool Decoded(bool ok, WireConnection connection, RequestHeader header, string what, Action start)
    {
        if (!ok)
        {
            return Bad(connection, header, what);
        }

        start();
        return true;
    }

    /// <summary>
    /// A body that does not decode: MarshallingError, in order, and the connection stays open, as ZooKeeper's
    /// PrepRequestProcessor and FinalRequestProcessor answer a request whose record fails to deserialize.
    /// </summary>
    private static bool Bad(WireConnection connection, RequestHeader header, string what)
    {
        Log.UndecodableRequest(connection.Peer.Logger, what, connection.Remote);
        connection.Read(header.Xid, header.Type, state => Outcome(state, ZkErrorCode.MarshallingError, null, null));
        return true;
    }

    private static ReadOutcome Outcome(TreeState state, ZkErrorCode error, string? path, object? value) =>
        new(new Reply(error, error == ZkErrorCode.Ok ? null : path, value, state.Zxid, state), null);

    private static ReadOutcome Exists(WireConnection connection, TreeState state, string path, bool watch)
    {
        var error = Reads.Exists(state, path, out var node);
        var outcome = Outcome(state, error == ZkErrorCode.Ok && node is null ? ZkErrorCode.NoNode : error, path, node?.ToStat());
        return error == ZkErrorCode.Ok && watch
            ? outcome with { Watch = Watch(connection, path, node is null ? ClientWatchTable.Exist : ClientWatchTable.Data, state, node) }
            : outcome;
    }

    private static ReadOutcome GetData(WireConnection connection, IReadOnlyList<Id> ids, TreeState state, string path, bool watch)
    {
        var error = Reads.GetData(state, path, ids, out var node);
        if (error != ZkErrorCode.Ok)
        {
            return Outcome(state, error, path, null);
        }

        var outcome = Outcome(state, error, path, new WireData(node!.Data, node.ToStat()));
        return watch ? outcome with { Watch = Watch(connection, path, ClientWatchTable.Data, state, node) } : outcome;
    }

    private static ReadOutcome GetChildren(WireConnection connection, IReadOnlyList<Id> ids, TreeState state, string path, bool watch)
    {
        var error = Reads.GetChildren(state, path, ids, out var node);
        if (error != ZkErrorCode.Ok)
        {
            return Outcome(state, error, path, null);
        }

        var outcome = Outcome(state, error, path, new ChildrenResult(node!.Children.Names(), node.ToStat()));
        return watch ? outcome with { Watch = Watch(connection, path, ClientWatchTable.Child, state, node) } : outcome;
    }

    private static PendingWatch Watch(WireConnection connection, string path, ClientWatchTable table, TreeState state, ZNode? seen) =>
        new(null, connection.Peer.Watches, connection.Session, path, table, _ => { }, state, seen);

    private static OpResult[] MultiRead(TreeState state, IReadOnlyList<Id> ids, IReadOnlyList<MultiOp> ops)
    {
        var results = new OpResult[ops.Count];
        for (var i = 0; i < ops.Count; i++)
        {
            var op = ops[i].Op;
            if (op is GetDataOp)
            {
                var error = Reads.GetData(state, op.Path, ids, out var node);
                results[i] = error == ZkErrorCode.Ok ? new GetDataResult(node!.Data ?? ReadOnlyMemory<byte>.Empty, node.ToStat()) { DataIsNull = node.Data is null } : new ErrorResult(error);
            }
            else
            {
                var error = Reads.GetChildren(state, op.Path, ids, out var node);
                results[i] = error == ZkErrorCode.Ok ? new GetChildrenResult(node!.Children.Names()) : new ErrorResult(error);
            }
        }

        return results;
    }

    private static bool AllReads(IReadOnlyList<MultiOp> ops)
    {
        foreach (var op in ops)
        {
            if (!MultiOp.IsRead(op.Type))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// Queues setWatches in the session's order once every path is known good: a null, empty, relative or otherwise
    /// invalid path answers BadArguments and registers nothing (ZooKeeper registers whatever string it gets, and a null
    /// one throws; see zookeeper-differences.md). Checked here, before the request is queued, because a queued read
    /// may run on the pipeline's publishing thread.
    /// </summary>
    private static void StartRewatch(WireConnection connection, int xid, OpCode type, WatchLists lists)
    {
        if (lists.TryFindInvalidPath(out var invalid))
        {
            connection.Read(xid, type, state => Outcome(state, ZkErrorCode.BadArguments, invalid, null), alwaysQueued: true);
            return;
        }

        connection.Read(xid, type, state => Rewatch(connection, state, lists), alwaysQueued: true);
    }

    /// <summary>
    /// setWatches on reconnect (<c>DataTree.setWatches</c>): against <paramref name="state"/>, a watch whose node changed
    /// after the client's zxid fires at once; the others are registered again as if a read at
    /// <paramref name="state"/> had set them (<see cref="OneShotWatches.Register"/>: registered first, then compared
    /// with the state whose triggers have run, so a change published meanwhile still fires them).
    /// </summary>
    private static ReadOutcome Rewatch(WireConnection connection, TreeState state, WatchLists lists)
    {
        var session = connection.Session;
        var watches = connection.Peer.Watches;
        var relativeZxid = lists.RelativeZxid;
        RewatchOneShots(connection, state, lists.Data, WatchKinds.Data, EventType.NodeDataChanged, node => node.Mzxid > relativeZxid);

        foreach (var path in lists.Exist ?? [])
        {
            if (state.Find(path) is not null)
            {
                Fire(connection, EventType.NodeCreated, path, state);
            }
            else
            {
                Register(connection, state, path, WatchKinds.Data, null);
            }
        }

        RewatchOneShots(connection, state, lists.Child, WatchKinds.Child, EventType.NodeChildrenChanged, node => node.Pzxid > relativeZxid);

        foreach (var path in lists.Persistent ?? [])
        {
            watches.AddPersistent(session, path, AddWatchMode.Persistent);
        }

        foreach (var path in lists.Recursive ?? [])
        {
            watches.AddPersistent(session, path, AddWatchMode.PersistentRecursive);
        }

        return Outcome(state, ZkErrorCode.Ok, null, null);
    }

    /// <summary>
    /// Data and child watches alike: a gone node fires NodeDeleted, a node changed since the client's zxid fires
    /// <paramref name="changedType"/>, any other is registered again.
    /// </summary>
    private static void RewatchOneShots(WireConnection connection, TreeState state, IReadOnlyList<string>? paths, WatchKinds kind, EventType changedType, Func<ZNode, bool> changedSince)
    {
        foreach (var path in paths ?? [])
        {
            var node = state.Find(path);
            if (node is null)
            {
                Fire(connection, EventType.NodeDeleted, path, state);
            }
            else if (changedSince(node))
            {
                Fire(connection, changedType, path, state);
            }
            else
            {
                Register(connection, state, path, kind, node);
            }
        }
    }

    private static void Register(WireConnection connection, TreeState state, string path, WatchKinds kind, ZNode? seen) =>
        OneShotWatches.Register(connection.Peer.Watches, connection.Session, path, kind, state, seen, connection.Outbox.FiringState);

    private static void Fire(WireConnection connection, EventType type, string path, TreeState state) =>
        connection.Outbox.EnqueueEvent(new WatchedEvent(type, KeeperState.SyncConnected, path) { Zxid = state.Zxid }, null);
}

/// <summary>The paths of a setWatches or setWatches2 request, with the zxid the client had seen.</summary>
internal readonly record struct WatchLists(
    long RelativeZxid,
    IReadOnlyList<string>? Data,
    IReadOnlyList<string>? Exist,
    IReadOnlyList<string>? Child,
    IReadOnlyList<string>? Persistent,
    IReadOnlyList<string>? Recursive)
{
    /// <summary>The first path of any list that is not a valid znode path (it may be null itself).</summary>
    public bool TryFindInvalidPath(out string? invalid)
    {
        foreach (var list in (ReadOnlySpan<IReadOnlyList<string>?>)[Data, Exist, Child, Persistent, Recursive])
        {
            foreach (var path in list ?? [])
            {
                if (PathRules.Validate(path) is not null)
                {
                    invalid = path;
                    return true;
                }
            }
        }

        invalid = null;
        return false;
    }
}

/// <summary>getData's value on the wire, where null data (length -1) differs from empty.</summary>
internal readonly record struct WireData(byte[]? Data, Stat Stat);
