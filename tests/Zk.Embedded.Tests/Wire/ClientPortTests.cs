using System.Net;
using Zk.Embedded.Api;
using Zk.Embedded.Wire.Jute;

namespace Zk.Embedded.Tests.Wire;

/// <summary>The client port speaks ZooKeeper's protocol: connect, requests, replies with the client's xid, notifications.</summary>
public sealed class ClientPortTests
{
    private static async Task<ZkPeer> StartAsync(string? whitelist = null) =>
        await ZkPeer.StartAsync(new ZkPeerOptions { ClientPort = 0, FourLetterWordWhitelist = whitelist });

    [Fact]
    public async Task A_wire_client_creates_a_session_and_a_node_that_an_in_process_session_sees()
    {
        await using var peer = await StartAsync();
        var (client, response) = await RawWireClient.ConnectAsync(peer.ClientEndPoint!, timeoutMs: 10_000);
        using var _ = client;
        Assert.NotEqual(0, response.SessionId);
        Assert.Equal(10_000, response.TimeoutMs);
        Assert.Equal(16, response.Password!.Length);

        client.SendRequest(7, OpCode.Create, new CreateRequest("/wire", [1, 2], Acl.OpenUnsafe, (int)CreateMode.Persistent));
        var (header, body) = client.ReceiveReply();
        Assert.Equal(7, header.Xid);
        Assert.Equal(ZkErrorCode.Ok, header.Err);
        Assert.Equal("/wire", Jute.Decode<CreateResponse>(body).Path);
        Assert.Equal(peer.LastZxid, header.Zxid);

        await using var local = await peer.ConnectAsync();
        Assert.Equal(new byte[] { 1, 2 }, (await local.GetDataAsync("/wire")).Data.ToArray());
    }

    [Fact]
    public async Task Errors_come_back_as_the_reply_header_code_and_the_connection_stays_usable()
    {
        await using var peer = await StartAsync();
        var (client, _) = await RawWireClient.ConnectAsync(peer.ClientEndPoint!);
        using var __ = client;
        client.SendRequest(1, OpCode.GetData, new GetDataRequest("/missing", false));
        Assert.Equal(ZkErrorCode.NoNode, client.ReceiveReply().Header.Err);
        client.SendRequest(2, OpCode.Create, new CreateRequest("/bad//path", null, Acl.OpenUnsafe, 0));
        Assert.Equal(ZkErrorCode.BadArguments, client.ReceiveReply().Header.Err);
        client.SendHeaderOnly(-2, OpCode.Ping);
        var ping = client.ReceiveReply().Header;
        Assert.Equal(-2, ping.Xid);
        Assert.Equal(ZkErrorCode.Ok, ping.Err);
    }

    [Fact]
    public async Task A_watch_set_over_the_wire_fires_a_notification_before_the_reply_of_the_next_read()
    {
        await using var peer = await StartAsync();
        await using var local = await peer.ConnectAsync();
        await local.CreateAsync("/w", [0], Acl.OpenUnsafe, CreateMode.Persistent);
        var (client, _) = await RawWireClient.ConnectAsync(peer.ClientEndPoint!);
        using var __ = client;
        client.SendRequest(1, OpCode.GetData, new GetDataRequest("/w", true));
        Assert.Equal(ZkErrorCode.Ok, client.ReceiveReply().Header.Err);

        await local.SetDataAsync("/w", [1]);
        client.SendRequest(2, OpCode.GetData, new GetDataRequest("/w", false));
        var (first, firstBody) = client.ReceiveReply();
        Assert.True(first.Xid == Xids.Notification, $"expected the notification (xid -1) first, got xid {first.Xid}");
        var notification = Jute.Decode<WatcherEvent>(firstBody);
        Assert.Equal(new WatcherEvent(EventType.NodeDataChanged, KeeperState.SyncConnected, "/w"), notification);
        var (second, secondBody) = client.ReceiveReply();
        Assert.Equal(2, second.Xid);
        Assert.Equal(new byte[] { 1 }, Jute.Decode<GetDataResponse>(secondBody).Data!.Value.ToArray());
    }

    [Fact]
    public async Task AddWatch_replies_with_an_int_zero_body_as_ZooKeeper_does()
    {
        await using var peer = await StartAsync();
        var (client, _) = await RawWireClient.ConnectAsync(peer.ClientEndPoint!);
        using var __ = client;
        client.SendRequest(3, OpCode.AddWatch, new AddWatchRequest("/", AddWatchMode.PersistentRecursive));
        var (header, body) = client.ReceiveReply();
        Assert.Equal(3, header.Xid);
        Assert.Equal(ZkErrorCode.Ok, header.Err);
        // FinalRequestProcessor answers addWatch with ErrorResponse(0); the Java client reads those four bytes.
        Assert.True(body.SequenceEqual(new byte[4]), $"expected a 4-byte zero body, got {body.Length} byte(s): {Convert.ToHexString(body)}");
    }

    [Fact]
    public async Task A_wrong_password_gets_timeout_zero_and_a_closed_connection()
    {
        await using var peer = await StartAsync();
        var (owner, response) = await RawWireClient.ConnectAsync(peer.ClientEndPoint!);
        using var _ = owner;
        var (intruder, refused) = await RawWireClient.ConnectAsync(peer.ClientEndPoint!, sessionId: response.SessionId, password: new byte[16]);
        using var __ = intruder;
        Assert.Equal(0, refused.TimeoutMs);
        Assert.True(intruder.IsClosedByServer(), "the refused connection must be closed");
    }

    [Fact]
    public async Task A_session_re_attaches_on_a_new_connection_and_the_old_one_is_closed()
    {
        await using var peer = await StartAsync();
        var (first, response) = await RawWireClient.ConnectAsync(peer.ClientEndPoint!);
        using var _ = first;
        first.SendRequest(1, OpCode.Create, new CreateRequest("/eph", null, Acl.OpenUnsafe, (int)CreateMode.Ephemeral));
        Assert.Equal(ZkErrorCode.Ok, first.ReceiveReply().Header.Err);
        var (second, again) = await RawWireClient.ConnectAsync(peer.ClientEndPoint!, sessionId: response.SessionId, password: response.Password);
        using var __ = second;
        Assert.Equal(response.SessionId, again.SessionId);
        Assert.True(first.IsClosedByServer(), "the old connection of a moved session must be closed");
        second.SendRequest(2, OpCode.Exists, new ExistsRequest("/eph", false));
        Assert.Equal(ZkErrorCode.Ok, second.ReceiveReply().Header.Err);
    }

    [Fact]
    public async Task A_frame_larger_than_jute_maxbuffer_closes_that_connection_only()
    {
        await using var peer = await StartAsync();
        var (bystander, _) = await RawWireClient.ConnectAsync(peer.ClientEndPoint!);
        using var __ = bystander;
        var (offender, _) = await RawWireClient.ConnectAsync(peer.ClientEndPoint!);
        using var ___ = offender;
        offender.SendRaw([0x7f, 0xff, 0xff, 0xff, 1, 2, 3]);
        Assert.True(offender.IsClosedByServer(), "a frame over jute.maxbuffer must close the connection");
        bystander.SendHeaderOnly(-2, OpCode.Ping);
        Assert.Equal(-2, bystander.ReceiveReply().Header.Xid);
    }

    [Fact]
    public async Task Closing_the_session_deletes_its_ephemerals_and_closes_the_connection()
    {
        await using var peer = await StartAsync();
        var (client, _) = await RawWireClient.ConnectAsync(peer.ClientEndPoint!);
        using var __ = client;
        client.SendRequest(1, OpCode.Create, new CreateRequest("/gone", null, Acl.OpenUnsafe, (int)CreateMode.Ephemeral));
        Assert.Equal(ZkErrorCode.Ok, client.ReceiveReply().Header.Err);
        client.SendHeaderOnly(2, OpCode.CloseSession);
        Assert.Equal(2, client.ReceiveReply().Header.Xid);
        Assert.True(client.IsClosedByServer(), "closeSession must end with the connection closed");
        await using var local = await peer.ConnectAsync();
        Assert.Null(await local.ExistsAsync("/gone"));
    }

    [Fact]
    public async Task Pipelined_reads_and_writes_are_answered_in_request_order()
    {
        await using var peer = await StartAsync();
        var (client, _) = await RawWireClient.ConnectAsync(peer.ClientEndPoint!);
        using var __ = client;
        client.SendRequest(1, OpCode.Create, new CreateRequest("/p", [0], Acl.OpenUnsafe, 0));
        Assert.Equal(ZkErrorCode.Ok, client.ReceiveReply().Header.Err);
        // Few enough that requests and replies fit the socket buffers: this client only reads after sending all.
        const int count = 500;
        for (var xid = 2; xid < count + 2; xid++)
        {
            if (xid % 5 == 0)
            {
                client.SendRequest(xid, OpCode.SetData, new SetDataRequest("/p", [(byte)xid], -1));
            }
            else
            {
                client.SendRequest(xid, OpCode.GetData, new GetDataRequest("/p", false));
            }
        }

        for (var xid = 2; xid < count + 2; xid++)
        {
            var header = client.ReceiveReply().Header;
            Assert.True(header.Xid == xid, $"expected the reply to xid {xid} next, got xid {header.Xid}");
        }
    }

    [Fact]
    public async Task The_close_reply_always_arrives_before_the_connection_closes()
    {
        await using var peer = await StartAsync();
        for (var i = 0; i < 100; i++)
        {
            var (client, _) = await RawWireClient.ConnectAsync(peer.ClientEndPoint!);
            using var __ = client;
            client.SendHeaderOnly(1, OpCode.CloseSession);
            var frame = client.ReceiveFrame();
            Assert.True(frame is not null, $"attempt {i}: the connection closed before the closeSession reply");
            Assert.True(client.IsClosedByServer(), $"attempt {i}: closeSession must end with the connection closed");
        }
    }

    [Fact]
    public async Task Four_letter_words_answer_in_text_when_whitelisted()
    {
        await using var peer = await StartAsync("ruok,envi");
        using (var client = await RawWireClient.OpenAsync(peer.ClientEndPoint!))
        {
            client.SendRaw("ruok"u8);
            Assert.Equal("imok", client.ReceiveTextToEnd());
        }

        using (var client = await RawWireClient.OpenAsync(peer.ClientEndPoint!))
        {
            client.SendRaw("srvr"u8);
            var srvr = client.ReceiveTextToEnd();
            Assert.Contains("Mode: standalone", srvr, StringComparison.Ordinal);
            Assert.Contains("Zxid: 0x", srvr, StringComparison.Ordinal);
        }

        using (var client = await RawWireClient.OpenAsync(peer.ClientEndPoint!))
        {
            client.SendRaw("envi"u8);
            Assert.Contains("zookeeper.version=3.8", client.ReceiveTextToEnd(), StringComparison.Ordinal);
        }

        using (var client = await RawWireClient.OpenAsync(peer.ClientEndPoint!))
        {
            client.SendRaw("mntr"u8);
            Assert.Equal("mntr is not executed because it is not in the whitelist.\n", client.ReceiveTextToEnd());
        }
    }

    [Fact]
    public async Task A_failed_multi_answers_err_0_in_the_header_with_per_op_results()
    {
        await using var peer = await StartAsync();
        var (client, _) = await RawWireClient.ConnectAsync(peer.ClientEndPoint!);
        using var __ = client;
        var multi = new MultiOperationRecord([
            MultiOp.ForClient(Op.Create("/m1", null, Acl.OpenUnsafe, CreateMode.Persistent)),
            MultiOp.ForClient(Op.Delete("/missing")),
            MultiOp.ForClient(Op.SetData("/m1", [1])),
        ]);
        client.SendRequest(5, OpCode.Multi, multi);
        var (header, body) = client.ReceiveReply();
        Assert.Equal(ZkErrorCode.Ok, header.Err);
        var results = Jute.Decode<MultiResponse>(body).Results.Select(r => r.Result).ToArray();
        Assert.Equal([new ErrorResult(ZkErrorCode.Ok), new ErrorResult(ZkErrorCode.NoNode), new ErrorResult(ZkErrorCode.RuntimeInconsistency)], results);
    }
}
