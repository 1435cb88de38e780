using Zk.Embedded.InProcess;
using Zk.Embedded.Processing;
using Zk.Embedded.Sessions;
using Zk.Embedded.Wire.Jute;

namespace Zk.Embedded.Wire.Server;

/// <summary>A pipeline request's reply that, delivered in the session's order, is written onto the connection.</summary>
internal sealed class WireReply(SessionOutbox outbox, WireConnection connection, int xid, OpCode opCode, long started, IReadOnlyList<MultiOp>? multiOps = null)
    : OrderedReply(outbox)
{
    /// <summary>The write's span (null when nobody listens), ended when its reply is written.</summary>
    public System.Diagnostics.Activity? Span { get; init; }

    public override void Deliver(in Reply reply)
    {
        connection.WriteQueuedReply(xid, opCode, reply, multiOps, started);
        Telemetry.EndWrite(Span, reply.Error, reply.Zxid);
    }
}
