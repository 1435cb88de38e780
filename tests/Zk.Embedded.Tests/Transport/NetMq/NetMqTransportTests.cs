using System.Net;
using System.Net.Sockets;
using Zk.Embedded.Tests.Support;
using Zk.Embedded.Transport;
using Zk.Transport.NetMQ;
using static Zk.Embedded.Tests.Transport.NetMq.NetMqTestSupport;

namespace Zk.Embedded.Tests.Transport.NetMq;

/// <summary>What the NetMQ transport adds to the contract: its thread and sockets end with it, heartbeats find a silent peer, options are checked.</summary>
public sealed class NetMqTransportTests
{
    [Fact]
    public async Task Dispose_ends_the_poller_thread_closes_every_socket_and_frees_the_quorum_port()
    {
        var cluster = new NetMqCluster(new TransportLimits());
        var peers = new[] { await cluster.StartAsync(1), await cluster.StartAsync(2), await cluster.StartAsync(3) };
        foreach (var (from, to) in new[] { (1, 2), (2, 3), (3, 1) })
            (await NoticeAsync(peers[from - 1], TransportEventKind.Connected, to)).Dispose();
        var threads = peers.Select(p => ((NetMqPeer)p).PollerThread).ToArray();

        await cluster.DisposeAsync();

        Assert.All(threads, t => Assert.False(t.IsAlive, $"expected poller thread {t.Name} to have ended when its transport was disposed"));
        foreach (var id in new[] { 1, 2, 3 })
        {
            var port = cluster.Port(id);
            await UntilAsync(() => OpenSockets(port).Count == 0, $"no socket left on peer {id}'s port {port} (found: {string.Join("; ", OpenSockets(port))})");
            using var again = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            again.Bind(new IPEndPoint(IPAddress.Loopback, port));   // throws if the port were still held
            again.Listen();
        }
    }

    [Fact]
    public async Task A_peer_that_falls_silent_is_reported_disconnected_by_heartbeats_and_connected_when_it_speaks_again()
    {
        // Peer 1 reaches peer 2 through a relay that can freeze: the TCP connection stays open but nothing passes,
        // as when peer 2's machine vanishes without a FIN or RST.
        await using var relay = new FreezingRelay(NetMqCluster.FreePort());
        var log = new EventLog();
        var cluster = new NetMqCluster(new TransportLimits(), members: 2, customize: o => o with
        {
            Logger = o.LocalId == 1 ? log : o.Logger,
            Members = o.LocalId == 1 ? new Dictionary<int, string>(o.Members) { [2] = $"127.0.0.1:{relay.Port}" } : o.Members,
            HeartbeatInterval = TimeSpan.FromMilliseconds(100),
            HeartbeatTimeout = TimeSpan.FromMilliseconds(600),
        });
        await using var _ = cluster;
        relay.Target = cluster.Port(2);
        var a = await cluster.StartAsync(1);
        await cluster.StartAsync(2);
        (await NoticeAsync(a, TransportEventKind.Connected, 2)).Dispose();

        relay.Frozen = true;
        (await NoticeAsync(a, TransportEventKind.Disconnected, 2)).Dispose();

        relay.Frozen = false;
        await UntilAsync(() => log.Saw(5001, times: 2), $"peer 1 to connect to peer 2 again after the thaw; peer 1's log:\n{log.Dump()}");
        (await NoticeAsync(a, TransportEventKind.Connected, 2)).Dispose();
        Assert.True(a.Send(2, [5]), "expected a send once peer 2 is connected again");
    }

    [Fact]
    public async Task A_fault_on_the_transport_thread_stops_that_transport_and_not_the_process()
    {
        // The host's logger throws when peer 1 logs its first connection: the exception leaves a poller handler.
        var cluster = new NetMqCluster(new TransportLimits(), members: 2, customize: o => o.LocalId == 1 ? o with { Logger = new ThrowingLogger(5001) } : o);
        await using var _ = cluster;
        var a = await cluster.StartAsync(1);
        await cluster.StartAsync(2);

        var completed = await Task.WhenAny(a.Events.Completion, Task.Delay(Deadline));
        Assert.True(completed == a.Events.Completion, "expected the events of a transport whose thread failed to complete");
        Assert.False(a.Send(2, [1]), "expected a failed transport to refuse sends");
    }

    [SkippableFact]
    public async Task Members_on_IPv6_addresses_connect_and_exchange_messages()
    {
        Skip.IfNot(Socket.OSSupportsIPv6 && File.Exists("/proc/net/if_inet6") && File.ReadAllText("/proc/net/if_inet6").Contains("00000000000000000000000000000001", StringComparison.Ordinal), "no IPv6 loopback here");
        var members = new Dictionary<int, string> { [1] = $"[::1]:{NetMqCluster.FreePort()}", [2] = $"[::1]:{NetMqCluster.FreePort()}" };
        var secret = new byte[32];
        await using var a = NetMqTransport.Start(new NetMqTransportOptions { LocalId = 1, Members = members, SharedSecret = secret });
        await using var b = NetMqTransport.Start(new NetMqTransportOptions { LocalId = 2, Members = members, SharedSecret = secret });
        (await NoticeAsync(a, TransportEventKind.Connected, 2)).Dispose();

        Assert.True(a.Send(2, [6]), "expected a send over IPv6 to be queued");
        using var e = await NextAsync(b, e => e.Kind == TransportEventKind.Message, "the message over IPv6");
        Assert.Equal([6], e.Payload.ToArray());
    }

    [Fact]
    public async Task Sends_to_a_peer_that_is_not_connected_are_refused_and_counted_as_drops()
    {
        using var dropped = new CounterProbe("Zk.Transport.NetMQ", "zk.transport.send.dropped");
        await using var cluster = new NetMqCluster(new TransportLimits(), members: 2);
        var a = await cluster.StartAsync(1);   // peer 2 never starts

        var accepted = Enumerable.Range(0, 10).Count(_ => a.Send(2, [1]));

        Assert.Equal(0, accepted);
        Assert.True(dropped.Total >= 10, $"expected at least 10 drops counted by zk.transport.send.dropped, saw {dropped.Total}");
    }

    [Fact]
    public void Options_that_are_wrong_are_refused_naming_the_option()
    {
        var members = new Dictionary<int, string> { [1] = "127.0.0.1:1", [2] = "127.0.0.1:2" };
        var good = new NetMqTransportOptions { LocalId = 1, Members = members, SharedSecret = new byte[32] };
        Assert.Equal("SharedSecret", Assert.Throws<ArgumentException>(() => NetMqTransport.Start(good with { SharedSecret = null })).ParamName);
        Assert.Equal("SharedSecret", Assert.Throws<ArgumentException>(() => NetMqTransport.Start(good with { SharedSecret = new byte[8] })).ParamName);
        Assert.Equal("Members", Assert.Throws<ArgumentException>(() => NetMqTransport.Start(good with { LocalId = 3 })).ParamName);
        Assert.Equal("Members[2]", Assert.Throws<ArgumentException>(() => NetMqTransport.Start(good with { Members = new Dictionary<int, string>(members) { [2] = "nohostport" } })).ParamName);
        Assert.Equal("tcp://*:2888", Endpoints.Tcp("0.0.0.0:2888", "ListenAddress"));   // quorumListenOnAllIPs
        Assert.Equal("tcp://[::1]:2888", Endpoints.Tcp("[::1]:2888", "Members[1]"));
        Assert.Equal("HeartbeatTimeout", Assert.Throws<ArgumentOutOfRangeException>(() => NetMqTransport.Start(good with { HeartbeatTimeout = TimeSpan.FromMilliseconds(500) })).ParamName);
    }

    [Fact]
    public async Task A_quorum_port_that_is_taken_is_refused_at_start_with_the_address()
    {
        using var taken = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        taken.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        taken.Listen();
        var port = ((IPEndPoint)taken.LocalEndPoint!).Port;
        var options = new NetMqTransportOptions { LocalId = 1, Members = new Dictionary<int, string> { [1] = $"127.0.0.1:{port}", [2] = "127.0.0.1:1" }, SharedSecret = new byte[32] };

        var refused = Assert.Throws<InvalidOperationException>(() => NetMqTransport.Start(options));

        Assert.Contains($"127.0.0.1:{port}", refused.Message, StringComparison.Ordinal);
        await Task.CompletedTask;
    }
}
