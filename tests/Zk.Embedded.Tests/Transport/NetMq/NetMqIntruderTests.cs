using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using NetMQ;
using NetMQ.Sockets;
using Zk.Embedded.Transport;
using Zk.Transport.NetMQ;
using static Zk.Embedded.Tests.Transport.NetMq.NetMqTestSupport;

namespace Zk.Embedded.Tests.Transport.NetMq;

/// <summary>
/// Processes that are not members, on the quorum port: nothing they send is ever delivered, oversize frames are not
/// allocated, garbage closes only their own connection, and the members go on exchanging messages.
/// </summary>
public sealed class NetMqIntruderTests
{
    private static readonly byte[] Injected = "injected by an intruder"u8.ToArray();

    [Fact]
    public async Task A_client_with_the_wrong_secret_that_claims_a_member_id_gets_nothing_delivered()
    {
        await using var cluster = new NetMqCluster(new TransportLimits());
        var (a, b) = (await cluster.StartAsync(1), await cluster.StartAsync(2));
        (await NoticeAsync(b, TransportEventKind.Connected, 1)).Dispose();
        using var intruder = new DealerSocket($">tcp://127.0.0.1:{cluster.Port(1)}");

        // DATA before any handshake, then a handshake as member 3 answered with a proof made from the wrong secret, then DATA again.
        Send(intruder, [Handshake.Data, .. Injected]);
        var nonceA = Handshake.NewNonce();
        Send(intruder, Handshake.WriteHello(3, 1, nonceA));
        var challenge = Receive(intruder, "peer 1's CHALLENGE to a HELLO naming member 3");
        var wrongSecret = RandomNumberGenerator.GetBytes(32);
        var forged = new byte[Handshake.AuthBytes];
        forged[0] = Handshake.Auth;
        HMACSHA256.HashData(wrongSecret, challenge, forged.AsSpan(1));
        Send(intruder, forged);
        for (var i = 0; i < 100; i++)
            Send(intruder, [Handshake.Data, .. Injected]);
        // The same connection's next HELLO is answered only after everything before it was read: a barrier.
        Send(intruder, Handshake.WriteHello(3, 1, Handshake.NewNonce()));
        Receive(intruder, "the CHALLENGE after the injected frames");

        Assert.True(b.Send(1, [1, 2, 3]), "expected member 2 to send to member 1");
        var skipped = new List<TransportEvent>();
        using var e = await NextAsync(a, e => e.Kind == TransportEventKind.Message, "member 2's message", skipped);
        Assert.Equal(2, e.Peer);
        Assert.Equal([1, 2, 3], e.Payload.ToArray());
        while (a.Events.TryRead(out var late))
            skipped.Add(late);
        Assert.DoesNotContain(skipped, s => s.Kind == TransportEventKind.Message);
    }

    [Fact]
    public async Task A_member_started_with_another_secret_is_never_connected_and_never_delivered_from()
    {
        var (log, impostorLog) = (new EventLog(), new EventLog());
        await using var cluster = new NetMqCluster(new TransportLimits(), customize: o => o.LocalId == 1 ? o with { Logger = log } : o);
        var a = await cluster.StartAsync(1);
        var b = await cluster.StartAsync(2);
        await using var impostor = NetMqTransport.Start(cluster.Options(3) with { SharedSecret = RandomNumberGenerator.GetBytes(32), Logger = impostorLog });

        // Each side checks the other's proof first: peer 1 refuses the impostor listening at member 3's address, and
        // the impostor refuses peer 1's CHALLENGE (so a real intruder would have only a forged AUTH to send: see above).
        await UntilAsync(() => log.Saw(5003), $"peer 1 to log PeerProofRefused (5003) for the impostor at member 3's address; log:\n{log.Dump()}");
        await UntilAsync(() => impostorLog.Saw(5003), $"the impostor to log PeerProofRefused (5003) for peer 1; log:\n{impostorLog.Dump()}");
        Assert.False(impostor.Send(1, Injected), "expected the impostor never to count as connected to member 1");
        var skipped = new List<TransportEvent>();
        (await NextAsync(a, e => e.Kind == TransportEventKind.Connected && e.Peer == 2, "member 2 connected", skipped)).Dispose();
        Assert.True(b.Send(1, [9]), "expected member 2 to send once connected");
        using var e = await NextAsync(a, e => e.Kind == TransportEventKind.Message, "member 2's message", skipped);
        Assert.Equal(2, e.Peer);
        while (a.Events.TryRead(out var late))
            skipped.Add(late);
        Assert.DoesNotContain(skipped, s => s.Peer == 3);
    }

    [Fact]
    public async Task A_stranger_flooding_the_port_with_handshakes_is_refused_with_at_most_a_log_line_a_second()
    {
        var log = new EventLog();
        await using var cluster = new NetMqCluster(new TransportLimits(), customize: o => o.LocalId == 1 ? o with { Logger = log } : o);
        await cluster.StartAsync(1);
        var started = DateTime.UtcNow;
        using var stranger = new DealerSocket($">tcp://127.0.0.1:{cluster.Port(1)}");

        for (var i = 0; i < 500; i++)
            Send(stranger, Handshake.WriteHello(9, 1, Handshake.NewNonce()));   // 9 is no member
        Send(stranger, Handshake.WriteHello(3, 1, Handshake.NewNonce()));
        Receive(stranger, "the CHALLENGE to the one HELLO naming a member, after the 500 refused");

        var allowed = 1 + (int)(DateTime.UtcNow - started).TotalSeconds;
        Assert.True(log.Count(5006) <= allowed, $"expected at most {allowed} IncomingRefused lines for 500 refused HELLOs, got {log.Count(5006)}:\n{log.Dump()}");
        Assert.True(log.Count(5006) >= 1, "expected the refusals to be logged at least once");
    }

    [Fact]
    public async Task Garbage_on_the_quorum_port_closes_that_connection_and_the_members_go_on()
    {
        var seed = Random.Shared.Next();
        await using var cluster = new NetMqCluster(new TransportLimits());
        var (a, b) = (await cluster.StartAsync(1), await cluster.StartAsync(2));
        (await NoticeAsync(b, TransportEventKind.Connected, 1)).Dispose();
        var garbage = new byte[64 * 1024];
        new Random(seed).NextBytes(garbage);
        garbage[0] = 0xFF;   // a ZMTP signature's first byte, so the rest is read as a greeting and refused

        using var raw = await ConnectRawAsync(cluster.Port(1));
        await raw.SendAsync(garbage);

        Assert.True(await ClosedByPeerAsync(raw), $"expected peer 1 to close a connection that sent garbage (seed {seed})");
        await AssertMembersExchangeAsync(a, b);
    }

    [Fact]
    public async Task A_frame_claiming_more_than_the_bound_closes_the_connection_without_allocating_it()
    {
        await using var cluster = new NetMqCluster(new TransportLimits { MaxMessageBytes = 64 * 1024 });
        var (a, b) = (await cluster.StartAsync(1), await cluster.StartAsync(2));
        (await NoticeAsync(b, TransportEventKind.Connected, 1)).Dispose();
        var before = GC.GetTotalAllocatedBytes(precise: true);

        using var raw = await ConnectRawAsync(cluster.Port(1));
        await raw.SendAsync(ZmtpDealerGreeting());
        var frame = new byte[9];
        frame[0] = 0x02;   // ZMTP 3 long frame, last
        BinaryPrimitives.WriteInt64BigEndian(frame.AsSpan(1), int.MaxValue);   // claims 2 GiB, an allocation .NET could make
        await raw.SendAsync(frame);

        Assert.True(await ClosedByPeerAsync(raw), "expected peer 1 to close a connection whose frame claims more than MaxMessageBytes");
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        // Process-wide, so other tests' allocations count too: 1 GiB is far above them and half the claim.
        Assert.True(allocated < 1L << 30, $"expected the claimed 2 GiB frame not to be allocated, but the process allocated {allocated / (1024 * 1024)} MiB meanwhile");
        await AssertMembersExchangeAsync(a, b);
    }

    private static async Task AssertMembersExchangeAsync(IPeerTransport a, IPeerTransport b)
    {
        Assert.True(b.Send(1, [4, 2]), "expected member 2 to send to member 1");
        using var e = await NextAsync(a, e => e.Kind == TransportEventKind.Message, "member 2's message after the intruder");
        Assert.Equal(2, e.Peer);
        Assert.Equal([4, 2], e.Payload.ToArray());
    }

    /// <summary>A ZMTP 3.0 greeting (NULL mechanism, as client) and READY as a DEALER, written by hand.</summary>
    private static byte[] ZmtpDealerGreeting()
    {
        var greeting = new byte[64];
        greeting[0] = 0xFF;
        greeting[9] = 0x7F;
        greeting[10] = 3;   // version 3.0
        "NULL"u8.CopyTo(greeting.AsSpan(12));
        byte[] ready = [0x04, 28, 5, .. "READY"u8, 11, .. "Socket-Type"u8, 0, 0, 0, 6, .. "DEALER"u8];
        return [.. greeting, .. ready];
    }

    private static async Task<Socket> ConnectRawAsync(int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
        return socket;
    }

    /// <summary>Reads (and ignores) what the peer sends until it closes the connection: true, or the deadline: false.</summary>
    private static async Task<bool> ClosedByPeerAsync(Socket socket)
    {
        using var cts = new CancellationTokenSource(Deadline);
        var buffer = new byte[4096];
        try
        {
            while (await socket.ReceiveAsync(buffer, cts.Token) > 0)
            {
            }
            return true;
        }
        catch (SocketException)
        {
            return true;   // reset
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private static void Send(DealerSocket socket, byte[] frame) =>
        Assert.True(socket.TrySendFrame(Deadline, frame), "expected the intruder's frame to be sent");

    private static byte[] Receive(DealerSocket socket, string expectation)
    {
        Assert.True(socket.TryReceiveFrameBytes(Deadline, out var frame), $"expected {expectation} within {Deadline}");
        return frame!;
    }
}
