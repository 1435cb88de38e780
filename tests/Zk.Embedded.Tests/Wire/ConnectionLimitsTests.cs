using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Time.Testing;
using Zk.Embedded.Api;
using Zk.Embedded.Tests.Support;
using Zk.Embedded.Wire.Client;
using Zk.Embedded.Wire.Jute;
using Zk.Embedded.Wire.Server;

namespace Zk.Embedded.Tests.Wire;

/// <summary>
/// What one connection may cost the peer: a client that sends without reading stops being read, never pins a
/// shared thread, and is closed when its session expires; a connection without a session is closed after a timeout.
/// </summary>
public sealed class ConnectionLimitsTests
{
    private const int Limit = 16;

    [Fact]
    public async Task A_client_that_pipelines_reads_and_never_reads_replies_stays_bounded_and_others_are_served()
    {
        await using var peer = await ZkPeer.StartAsync(new ZkPeerOptions
        {
            ClientPort = 0,
            GlobalOutstandingLimit = Limit,
            TickTime = TimeSpan.FromMilliseconds(100),
        });
        await using (var local = await peer.ConnectAsync())
        {
            await local.CreateAsync("/big", new byte[64 * 1024], Acl.OpenUnsafe, CreateMode.Persistent);
        }

        // A client with a tiny receive window that asks for the 64 KiB node 1,000 times and reads nothing.
        using var stuck = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
        await stuck.ConnectAsync(peer.ClientEndPoint!);
        var sessionId = await ConnectAsync(stuck, timeoutMs: 2_000);
        var burst = new List<byte>();
        for (var xid = 1; xid <= 1_000; xid++)
        {
            burst.AddRange(RawWireClient.Frame([.. Jute.ToArray(new RequestHeader(xid, OpCode.GetData)), .. Jute.ToArray(new GetDataRequest("/big", false))]));
        }

        // Its sends back up once the server stops reading: they never complete, so they are not awaited.
        _ = stuck.SendAsync(burst.ToArray());
        var port = peer.ClientPort!;
        var connection = await ConnectionOfAsync(port, sessionId);
        await Eventually.TrueAsync(() => port.Outstanding > Limit, $"more than {Limit} requests outstanding, so the stuck connection is throttled");

        // Another session is served meanwhile (no thread is held by the stuck one's blocked send).
        await using (var other = await ZkClient.ConnectAsync($"127.0.0.1:{peer.ClientEndPoint!.Port}"))
        {
            var read = other.GetDataAsync("/big").AsTask();
            Assert.True(await Task.WhenAny(read, Task.Delay(TimeSpan.FromSeconds(30))) == read, "another session's getData must be answered while one client does not read");
            Assert.Equal(64 * 1024, (await read).Data.Length);
        }

        var (outstanding, queued) = connection.Backlog;
        Assert.True(outstanding <= Limit + 1, $"the stuck connection must stop being read past globalOutstandingLimit ({Limit}): {outstanding} of its 1,000 requests were read and are unanswered");
        Assert.True(queued <= Limit + 1, $"at most the outstanding replies may wait to be sent, not {queued}");

        // Its session expires (it sends no pings), and its connection closes although a send to it is blocked.
        await Eventually.TrueAsync(() => !port.Connections.Contains(connection), "the stuck connection closed once its session expired", TimeSpan.FromSeconds(20));
        Assert.Equal(0, port.Outstanding);
    }

    [Fact]
    public async Task A_connection_that_never_sends_a_connect_request_is_closed_after_the_sessionless_timeout()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2024, 1, 1, 0, 0, 0, TimeSpan.Zero));
        await using var peer = await ZkPeer.StartAsync(new ZkPeerOptions { ClientPort = 0, Time = time, SessionlessConnectionTimeout = TimeSpan.FromSeconds(10) });
        var port = peer.ClientPort!;
        using var idle = await RawWireClient.OpenAsync(peer.ClientEndPoint!);
        using var halfFrame = await RawWireClient.OpenAsync(peer.ClientEndPoint!);
        halfFrame.SendRaw([0, 0, 0, 45, 0, 0]);
        var (client, response) = await RawWireClient.ConnectAsync(peer.ClientEndPoint!, timeoutMs: 30_000);
        using var _ = client;
        await Eventually.TrueAsync(() => port.Connections.Count == 3, "three connections accepted");

        time.Advance(TimeSpan.FromSeconds(9));
        client.SendRequest(1, OpCode.Exists, new ExistsRequest("/", false));
        Assert.Equal(ZkErrorCode.Ok, client.ReceiveReply().Header.Err);
        Assert.Equal(3, port.Connections.Count);

        time.Advance(TimeSpan.FromSeconds(1));
        await Eventually.TrueAsync(() => port.Connections.Count == 1, "the two connections without a session closed after nio.sessionlessCnxnTimeout");
        Assert.True(idle.IsClosedByServer(), "a connection that sends nothing must be closed");
        Assert.True(halfFrame.IsClosedByServer(), "a connection stuck inside its connect request must be closed too");

        // The one that connected in time keeps its session past the timeout.
        client.SendRequest(2, OpCode.Exists, new ExistsRequest("/", false));
        Assert.Equal(ZkErrorCode.Ok, client.ReceiveReply().Header.Err);
        Assert.NotEqual(0, response.SessionId);
    }

    private static async Task<long> ConnectAsync(Socket socket, int timeoutMs)
    {
        await socket.SendAsync(RawWireClient.Frame(Jute.ToArray(new ConnectRequest(0, 0, timeoutMs, 0, new byte[16], false))));
        var head = new byte[4];
        await ReceiveExactlyAsync(socket, head);
        var body = new byte[System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(head)];
        await ReceiveExactlyAsync(socket, body);
        return Jute.Decode<ConnectResponse>(body).SessionId;
    }

    private static async Task ReceiveExactlyAsync(Socket socket, byte[] buffer)
    {
        for (var got = 0; got < buffer.Length;)
        {
            var read = await socket.ReceiveAsync(buffer.AsMemory(got));
            Assert.True(read > 0, "the server closed the connection during the connect");
            got += read;
        }
    }

    private static async Task<WireConnection> ConnectionOfAsync(ClientPort port, long sessionId)
    {
        WireConnection? found = null;
        await Eventually.TrueAsync(() => (found = port.Connections.FirstOrDefault(c => c.SessionId?.Value == sessionId)) is not null, "the connection of the stuck session");
        return found!;
    }
}
