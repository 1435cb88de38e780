using Microsoft.Extensions.Logging;
using Zk.Embedded.Api;
using Zk.Embedded.Wire.Jute;
using CloseSessionRequest = Zk.Embedded.Processing.CloseSessionRequest;
using MultiRequest = Zk.Embedded.Processing.MultiRequest;
using P = Zk.Embedded.Processing;
using ReadContext = Zk.Embedded.Processing.ReadContext;
using ReadEngine = Zk.Embedded.Processing.ReadEngine;
using Reply = Zk.Embedded.Processing.Reply;
using WatchLists = Zk.Embedded.Watches.WatchLists;

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
        var context = new ReadContext(connection.Session, connection.AuthIds, connection.Peer.Watches, null);
        var reader = new JuteReader(body, connection.Peer.Options.MaxDataBytes);
        switch (header.Type)
        {
            case OpCode.Ping:
                connection.Read(xid, OpCode.Ping, static state => ReadEngine.Answer(state, ZkErrorCode.Ok));
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

                connection.Submit(xid, header.Type, new MultiRequest(multi.ToOps()), multi.Ops);
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
                    connection.Read(xid, header.Type, static state => ReadEngine.Answer(state, ZkErrorCode.MarshallingError));
                    return true;
                }

                var reads = multi.ToOps();
                connection.Read(xid, header.Type, state => ReadEngine.MultiRead(state, context, reads));
                return true;
            }

            case OpCode.Exists:
                return Decoded(ExistsRequest.TryRead(ref reader, out var exists), connection, header, "exists", () =>
                    connection.Read(xid, header.Type, state => ReadEngine.Exists(state, context, exists.Path ?? "", WatchIf(exists.Watch))));
            case OpCode.GetData:
                return Decoded(GetDataRequest.TryRead(ref reader, out var getData), connection, header, "getData", () =>
                    connection.Read(xid, header.Type, state => ReadEngine.GetData(state, context, getData.Path ?? "", WatchIf(getData.Watch))));
            case OpCode.GetChildren or OpCode.GetChildren2:
                return Decoded(GetChildrenRequest.TryRead(ref reader, out var getChildren), connection, header, "getChildren", () =>
                    connection.Read(xid, header.Type, state => ReadEngine.GetChildren(state, context, getChildren.Path ?? "", WatchIf(getChildren.Watch))));
            case OpCode.GetAcl:
                return Decoded(GetAclRequest.TryRead(ref reader, out var getAcl), connection, header, "getACL", () =>
                    connection.Read(xid, header.Type, state => ReadEngine.GetAcl(state, context, getAcl.Path ?? "")));
            case OpCode.GetAllChildrenNumber:
                return Decoded(GetAllChildrenNumberRequest.TryRead(ref reader, out var count), connection, header, "getAllChildrenNumber", () =>
                    connection.Read(xid, header.Type, state => ReadEngine.GetAllChildrenNumber(state, context, count.Path ?? "")));
            case OpCode.GetEphemerals:
                return Decoded(GetEphemeralsRequest.TryRead(ref reader, out var ephemerals), connection, header, "getEphemerals", () =>
                    connection.Read(xid, header.Type, state => ReadEngine.GetEphemerals(state, context, ephemerals.PrefixPath ?? "/")));
            case OpCode.WhoAmI:
                connection.Read(xid, header.Type, state => ReadEngine.WhoAmI(state, context));
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
                connection.Read(xid, header.Type, state => ReadEngine.Answer(state, error));
                return true;
            }

            case OpCode.SetWatches:
                return Decoded(SetWatches.TryRead(ref reader, out var setWatches), connection, header, "setWatches", () =>
                    WireRewatch.Start(connection, xid, header.Type, new WatchLists(new Zxid(setWatches.RelativeZxid), setWatches.DataWatches, setWatches.ExistWatches, setWatches.ChildWatches, null, null)));
            case OpCode.SetWatches2:
                return Decoded(SetWatches2.TryRead(ref reader, out var setWatches2), connection, header, "setWatches2", () =>
                    WireRewatch.Start(connection, xid, header.Type, new WatchLists(new Zxid(setWatches2.RelativeZxid), setWatches2.DataWatches, setWatches2.ExistWatches, setWatches2.ChildWatches, setWatches2.PersistentWatches, setWatches2.PersistentRecursiveWatches)));
            case OpCode.Reconfig:
                // Reconfig is disabled, as in a ZooKeeper without reconfigEnabled.
                connection.Read(xid, header.Type, static state => ReadEngine.Answer(state, ZkErrorCode.ReconfigDisabled));
                return true;
            case OpCode.DeleteContainer:
                // The peer's own opcode. ZooKeeper reads its body as a bare path, so a client's jute-encoded body
                // fails path validation there with BadArguments; a bare path is refused too (docs: differences).
                connection.Read(xid, header.Type, static state => ReadEngine.Answer(state, ZkErrorCode.BadArguments));
                return true;
            default:
                // UnimplementedRequestProcessor: Unimplemented, then the connection closes (WireConnection.WriteReply).
                Log.UnknownOpcode(connection.Peer.Logger, (int)header.Type, connection.Session.SessionId);
                connection.Read(xid, header.Type, static state => ReadEngine.Answer(state, ZkErrorCode.Unimplemented));
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
        connection.Read(header.Xid, header.Type, static state => ReadEngine.Answer(state, ZkErrorCode.MarshallingError));
        return true;
    }

    /// <summary>A wire client keeps its own watchers: the server half of a watch needs a delegate, and this one is never called.</summary>
    private static readonly Watcher ClientKeepsIts = static _ => { };

    /// <summary>The watcher to register when the request asked for a watch.</summary>
    private static Watcher? WatchIf(bool watch) => watch ? ClientKeepsIts : null;

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
}
