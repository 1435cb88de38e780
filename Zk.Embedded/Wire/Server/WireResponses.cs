using Zk.Embedded.Api;
using Zk.Embedded.Processing;
using Zk.Embedded.Wire.Jute;

namespace Zk.Embedded.Wire.Server;

/// <summary>Encodes a reply as ZooKeeper does for each opcode: the header, then the body only when the request succeeded.</summary>
internal static class WireResponses
{
    public static void Write(ref JuteWriter writer, int xid, OpCode opCode, in Reply reply, IReadOnlyList<MultiOp>? multiOps)
    {
        // A failed multi answers err 0 in the header; its per-op results carry the failure (FinalRequestProcessor).
        var headerError = opCode == OpCode.Multi && reply.Value is IReadOnlyList<OpResult> ? ZkErrorCode.Ok : reply.Error;
        new ReplyHeader(xid, reply.Zxid.Value, headerError).Write(ref writer);
        if (headerError != ZkErrorCode.Ok)
        {
            return;
        }

        switch (opCode)
        {
            case OpCode.Create:
                new CreateResponse(((CreateResult)reply.Value!).Path).Write(ref writer);
                break;
            case OpCode.Create2 or OpCode.CreateContainer or OpCode.CreateTtl:
                var created = (CreateResult)reply.Value!;
                new Create2Response(created.Path, created.Stat).Write(ref writer);
                break;
            case OpCode.SetData or OpCode.SetAcl or OpCode.Exists:
                new StatResponse((Stat)reply.Value!).Write(ref writer);
                break;
            case OpCode.GetData:
                // Null data (length -1) differs from empty on the wire.
                var data = (DataResult)reply.Value!;
                writer.WriteBuffer(data.DataIsNull ? (ReadOnlyMemory<byte>?)null : data.Data);
                writer.WriteStat(data.Stat);
                break;
            case OpCode.GetAcl:
                var acl = (AclResult)reply.Value!;
                new GetAclResponse(acl.Acl, acl.Stat).Write(ref writer);
                break;
            case OpCode.GetChildren:
                new GetChildrenResponse(((ChildrenResult)reply.Value!).Children).Write(ref writer);
                break;
            case OpCode.GetChildren2:
                var children = (ChildrenResult)reply.Value!;
                new GetChildren2Response(children.Children, children.Stat).Write(ref writer);
                break;
            case OpCode.Sync:
                new SyncResponse((string?)reply.Value).Write(ref writer);
                break;
            case OpCode.GetAllChildrenNumber:
                new GetAllChildrenNumberResponse((int)reply.Value!).Write(ref writer);
                break;
            case OpCode.GetEphemerals:
                new GetEphemeralsResponse((IReadOnlyList<string>)reply.Value!).Write(ref writer);
                break;
            case OpCode.WhoAmI:
                new WhoAmIResponse((IReadOnlyList<ClientInfo>)reply.Value!).Write(ref writer);
                break;
            case OpCode.AddWatch:
                // FinalRequestProcessor answers addWatch with an ErrorResponse(0) body; the Java client reads it, and
                // without it the next reply on the connection is misread (ConnectionLoss).
                writer.WriteInt(0);
                break;
            case OpCode.Multi or OpCode.MultiRead:
                var results = (IReadOnlyList<OpResult>)reply.Value!;
                var ops = multiOps ?? [];
                var encoded = new MultiResult[results.Count];
                for (var i = 0; i < encoded.Length; i++)
                {
                    encoded[i] = MultiResult.For(results[i], i < ops.Count ? ops[i].Type : OpCode.Error);
                }

                new MultiResponse(encoded).Write(ref writer);
                break;
        }
    }
}
