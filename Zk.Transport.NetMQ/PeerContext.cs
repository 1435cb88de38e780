using Microsoft.Extensions.Logging;
using NetMQ;
using Zk.Embedded.Transport;
using Zk.Transport.InMemory;

namespace Zk.Transport.NetMQ;

/// <summary>What the links and the router of one transport share: its options, poller, receive queue and wake-up queue.</summary>
internal sealed class PeerContext(NetMqTransportOptions options, NetMQPoller poller, Inbox inbox, NetMQQueue<int> wake)
{
    public NetMqTransportOptions Options => options;
    public int LocalId => options.LocalId;
    public TransportLimits Limits => options.Limits;
    public ILogger Logger => options.Logger;
    public NetMQPoller Poller => poller;
    public Inbox Inbox => inbox;

    /// <summary>Called on the poller thread when a member's proven connection to this peer ends.</summary>
    public Action<int> MemberGone { get; set; } = _ => { };

    /// <summary>Asks the poller thread to flush <paramref name="peer"/>'s queue (any thread).</summary>
    public void Wake(int peer) => wake.Enqueue(peer);

    public void Notice(TransportEvent notice) => inbox.PostNotice(notice);

    /// <summary>Copies a received message into a pooled buffer for the driver, or drops it when the receive queue is full.</summary>
    public void Deliver(int from, ReadOnlySpan<byte> message)
    {
        var payload = PooledPayload.Copy(message);
        if (!inbox.TryPost(from, payload))
        {
            payload.Dispose();
            Telemetry.ReceiveDropped.Add(1);
        }
    }

    /// <summary>
    /// No ZMTP heartbeats: their timers run on NetMQ's I/O thread and tear connections down from inside its timer
    /// loop, the path of the process-killing exception in <c>PollerBase.ExecuteTimers</c> (zeromq/netmq #1010). Our
    /// own PING/PONG (<see cref="OutboundLink"/>) finds a silent member in each direction instead, and the kernel's
    /// TCP keepalive (no NetMQ timer) closes half-open connections a vanished member leaves on the router.
    /// </summary>
    public void Keepalive(NetMQSocket socket)
    {
        socket.Options.TcpKeepalive = true;
        socket.Options.TcpKeepaliveIdle = TimeSpan.FromSeconds(Math.Max(1, Math.Ceiling(options.HeartbeatTimeout.TotalSeconds)));
        socket.Options.TcpKeepaliveInterval = TimeSpan.FromSeconds(1);
    }
}
