using Zk.Embedded.Processing;
using Zk.Embedded.Sessions;
using Zk.Embedded.Wire.Jute;

namespace Zk.Embedded.Wire.Server;

/// <summary>A pipeline request's reply that, delivered in the session's order, is written onto the connection.</summary>
internal sealed class WireReply(SessionOutbox outbox, WireConnection connection, int xid, OpCode opCode, long started, IReadOnlyList<MultiOp>? multiOps = null)
    : OrderedReply(outbox)
{
    public override void Deliver(in Reply reply) => connection.WriteQueuedReply(xid, opCode, reply, multiOps, started);
}
