using Zk.Embedded.Api;
using Zk.Embedded.Wire.Jute;

namespace Zk.Embedded.Tests.Wire;

/// <summary>
/// Client port details where Apache ZooKeeper 3.8's answer was read in its source (NIOServerCnxn, ZooKeeperServer,
/// PrepRequestProcessor, FinalRequestProcessor, UnimplementedRequestProcessor, WatchManager) and matched.
/// </summary>
public sealed class ApacheParityTests
{
    private static async Task<ZkPeer> StartAsync(string? whitelist = null, int maxBuffer = 0xfffff) =>
        await ZkPeer.StartAsync(new ZkPeerOptions { ClientPort = 0, FourLetterWordWhitelist = whitelist, MaxDataBytes = maxBuffer });

    [Fact]
    public async Task Four_letter_words_other_than_mntr_and_refused_words_walk_no_tree()
    {
        await using var peer = await StartAsync("ruok,srvr,stat,cons,wchs,mntr");
        var port = peer.ClientPort!;
        foreach (var word in new[] { "dump", "envi", "ruok", "srvr", "stat", "cons", "wchs" })
        {
            await AskAsync(peer, word);
        }

        Assert.True(port.TreeWalks == 0, $"refused words, ruok, srvr, stat, cons and wchs need no walk of the tree, but {port.TreeWalks} were made");
        Assert.Contains("zk_approximate_data_size", await AskAsync(peer, "mntr"), StringComparison.Ordinal);
        Assert.Equal(1, port.TreeWalks);
    }

    [Fact]
    public async Task Wchs_counts_only_the_connections_that_watch()
    {
        await using var peer = await StartAsync("wchs");
        var (watching, _) = await RawWireClient.ConnectAsync(peer.ClientEndPoint!);
        var (idle, _) = await RawWireClient.ConnectAsync(peer.ClientEndPoint!);
        using var a = watching;
        using var b = idle;
        watching.SendRequest(1, OpCode.Exists, new ExistsRequest("/a", true));
        Assert.Equal(ZkErrorCode.NoNode, watching.ReceiveReply().Header.Err);

        Assert.StartsWith("1 connections watching 1 paths\n", await AskAsync(peer, "wchs"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_frame_longer_than_jute_maxbuffer_closes_the_connection_even_within_1024_bytes_of_it()
    {
        await using var peer = await StartAsync(maxBuffer: 4096);
        var (client, _) = await RawWireClient.ConnectAsync(peer.ClientEndPoint!);
        using var _ = client;
        // NIOServerCnxn.readLength refuses len > jute.maxbuffer: this frame is 4,096 data bytes plus the header and path.
        client.SendRequest(1, OpCode.SetData, new SetDataRequest("/", new byte[4096], -1));
        Assert.True(client.IsClosedByServer(), "a frame over jute.maxbuffer must close the connection");
    }

    [Fact]
    public async Task A_body_that_does_not_decode_answers_MarshallingError_and_the_connection_stays_open()
    {
        await using var peer = await StartAsync();
        var (client, _) = await RawWireClient.ConnectAsync(peer.ClientEndPoint!);
        using var _ = client;
        // A getData whose path length says 1,000 bytes, with 3 behind it.
        client.SendRaw(RawWireClient.Frame([.. Jute.ToArray(new RequestHeader(1, OpCode.GetData)), 0, 0, 3, 0xe8, 1, 2, 3]));
        var (header, _) = client.ReceiveReply();
        Assert.Equal((1, ZkErrorCode.MarshallingError), (header.Xid, header.Err));

        client.SendRequest(2, OpCode.Exists, new ExistsRequest("/", false));
        var next = client.ReceiveReply().Header;
        Assert.Equal((2, ZkErrorCode.Ok), (next.Xid, next.Err));
    }

    [Fact]
    public async Task An_unknown_opcode_answers_Unimplemented_and_closes_the_connection()
    {
        await using var peer = await StartAsync();
        var (client, _) = await RawWireClient.ConnectAsync(peer.ClientEndPoint!);
        using var _ = client;
        client.SendHeaderOnly(1, (OpCode)99);
        var (header, _) = client.ReceiveReply();
        Assert.Equal((1, ZkErrorCode.Unimplemented), (header.Xid, header.Err));
        Assert.True(client.IsClosedByServer(), "UnimplementedRequestProcessor closes the connection after its reply");
    }

    [Fact]
    public async Task DeleteContainer_from_a_client_answers_BadArguments()
    {
        await using var peer = await StartAsync();
        var (client, _) = await RawWireClient.ConnectAsync(peer.ClientEndPoint!);
        using var _ = client;
        client.SendRequest(1, OpCode.DeleteContainer, new DeleteRequest("/zookeeper", -1));
        var (header, _) = client.ReceiveReply();
        Assert.Equal((1, ZkErrorCode.BadArguments), (header.Xid, header.Err));
    }

    private static async Task<string> AskAsync(ZkPeer peer, string word)
    {
        using var client = await RawWireClient.OpenAsync(peer.ClientEndPoint!);
        client.SendRaw(System.Text.Encoding.ASCII.GetBytes(word));
        return client.ReceiveTextToEnd();
    }
}
