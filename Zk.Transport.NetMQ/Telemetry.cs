using System.Diagnostics.Metrics;

namespace Zk.Transport.NetMQ;

/// <summary>The NetMQ transport's instruments, on the assembly's one meter.</summary>
internal static class Telemetry
{
    public static readonly Meter Meter = new("Zk.Transport.NetMQ");

    /// <summary>Messages Send refused: that peer's queue was full or it was not connected (the contract's tail drop).</summary>
    public static readonly Counter<long> SendDropped = Meter.CreateCounter<long>("zk.transport.send.dropped", "{message}", "peer messages dropped at send: queue full or peer not connected");

    /// <summary>Messages received and dropped because the receive queue was full.</summary>
    public static readonly Counter<long> ReceiveDropped = Meter.CreateCounter<long>("zk.transport.receive.dropped", "{message}", "peer messages dropped on arrival: the receive queue was full");

    /// <summary>Frames from connections that had not proven membership (or were not frames of ours), discarded unread.</summary>
    public static readonly Counter<long> Rejected = Meter.CreateCounter<long>("zk.transport.rejected", "{frame}", "frames from unauthenticated or malformed connections, discarded");
}
