using System.Net;
using Zk.Embedded.Api;
using AccessControl = Zk.Embedded.Processing.AccessControl;
using Zk.Embedded.Tests.Storage;
using Zk.Embedded.Wire.Jute;

namespace Zk.Embedded.Tests.Wire;

/// <summary>
/// Identities belong to the connection, as in ZooKeeper (<c>ServerCnxn.authInfo</c>): the ip id is the socket's
/// address, addAuth adds to the connection, and each request is checked with the ids it arrived with.
/// </summary>
public sealed class ConnectionIdentityTests
{
    private static readonly IPAddress Other = IPAddress.Parse("127.0.0.2");

    /// <summary>Readable only from 127.0.0.1.</summary>
    private static readonly IReadOnlyList<Acl> LocalOnly = [new(Perms.All, new Id("ip", "127.0.0.1"))];

    [Fact]
    public async Task A_session_moved_to_a_connection_from_another_address_gets_that_address_and_loses_its_digest()
    {
        await using var peer = await ZkPeer.StartAsync(new ZkPeerOptions { ClientPort = 0 });
        await using (var local = await peer.ConnectAsync())
        {
            await local.CreateAsync("/local", [1], LocalOnly, CreateMode.Persistent);
            await local.CreateAsync("/digest", [2], [new(Perms.All, AccessControl.DigestId("user:pw"))], CreateMode.Persistent);
        }

        var (first, response) = await RawWireClient.ConnectAsync(peer.ClientEndPoint!, from: IPAddress.Loopback);
        using (first)
        {
            first.SendRequest(Xids.Auth, OpCode.Auth, new AuthPacket(0, "digest", "user:pw"u8.ToArray()));
            Assert.Equal(ZkErrorCode.Ok, first.ReceiveReply().Header.Err);
            Assert.Equal(ZkErrorCode.Ok, GetData(first, 1, "/local"));
            Assert.Equal(ZkErrorCode.Ok, GetData(first, 2, "/digest"));
        }

        var (moved, again) = await RawWireClient.ConnectAsync(peer.ClientEndPoint!, sessionId: response.SessionId, password: response.Password, from: Other);
        using var _ = moved;
        Assert.Equal(response.SessionId, again.SessionId);
        Assert.Equal(ZkErrorCode.NoAuth, GetData(moved, 3, "/local"));
        // Apache ZooKeeper: a new connection starts with only its ip id; the client re-sends its auth.
        Assert.Equal(ZkErrorCode.NoAuth, GetData(moved, 4, "/digest"));
        Assert.Equal([new ClientInfo("ip", "127.0.0.2")], WhoAmI(moved, 5));
    }

    [Fact]
    public async Task A_session_recovered_at_start_takes_the_address_of_the_connection_that_re_attaches_it()
    {
        using var dir = new TempDirectory();
        var options = new ZkPeerOptions { DataDir = dir.Path, ClientPort = 0 };
        ConnectResponse response;
        await using (var peer = await ZkPeer.StartAsync(options))
        {
            await using (var local = await peer.ConnectAsync())
            {
                await local.CreateAsync("/local", [1], LocalOnly, CreateMode.Persistent);
            }

            (var client, response) = await RawWireClient.ConnectAsync(peer.ClientEndPoint!, timeoutMs: 30_000, from: IPAddress.Loopback);
            client.Dispose();
        }

        await using var restarted = await ZkPeer.StartAsync(options);
        var (moved, again) = await RawWireClient.ConnectAsync(restarted.ClientEndPoint!, sessionId: response.SessionId, password: response.Password, from: Other);
        using var _ = moved;
        Assert.Equal(response.SessionId, again.SessionId);
        Assert.Equal(ZkErrorCode.NoAuth, GetData(moved, 1, "/local"));
        Assert.Equal([new ClientInfo("ip", "127.0.0.2")], WhoAmI(moved, 2));
    }

    [Fact]
    public async Task A_read_queued_behind_a_write_before_an_addAuth_is_checked_without_the_new_identity()
    {
        await using var peer = await ZkPeer.StartAsync(new ZkPeerOptions { ClientPort = 0 });
        await using (var local = await peer.ConnectAsync())
        {
            await local.CreateAsync("/secret", [1], [new(Perms.All, AccessControl.DigestId("user:pw"))], CreateMode.Persistent);
            await local.CreateAsync("/w", [], Acl.OpenUnsafe, CreateMode.Persistent);
        }

        var (client, _) = await RawWireClient.ConnectAsync(peer.ClientEndPoint!);
        using var __ = client;
        // One send: a write, a read that waits behind it, the addAuth, and the same read again.
        var frames = new List<byte>();
        frames.AddRange(RawWireClient.Frame([.. Jute.ToArray(new RequestHeader(1, OpCode.SetData)), .. Jute.ToArray(new SetDataRequest("/w", [1], -1))]));
        frames.AddRange(RawWireClient.Frame([.. Jute.ToArray(new RequestHeader(2, OpCode.GetData)), .. Jute.ToArray(new GetDataRequest("/secret", false))]));
        frames.AddRange(RawWireClient.Frame([.. Jute.ToArray(new RequestHeader(Xids.Auth, OpCode.Auth)), .. Jute.ToArray(new AuthPacket(0, "digest", "user:pw"u8.ToArray()))]));
        frames.AddRange(RawWireClient.Frame([.. Jute.ToArray(new RequestHeader(3, OpCode.GetData)), .. Jute.ToArray(new GetDataRequest("/secret", false))]));
        client.SendRaw(frames.ToArray());

        var replies = Enumerable.Range(0, 4).Select(_ => client.ReceiveReply().Header).ToArray();
        Assert.Equal([1, 2, Xids.Auth, 3], replies.Select(h => h.Xid));
        Assert.True(replies[1].Err == ZkErrorCode.NoAuth, $"the read sent before addAuth must be checked without its id: got {replies[1].Err}");
        Assert.Equal(ZkErrorCode.Ok, replies[2].Err);
        Assert.Equal(ZkErrorCode.Ok, replies[3].Err);
    }

    private static ZkErrorCode GetData(RawWireClient client, int xid, string path)
    {
        client.SendRequest(xid, OpCode.GetData, new GetDataRequest(path, false));
        var (header, _) = client.ReceiveReply();
        Assert.Equal(xid, header.Xid);
        return header.Err;
    }

    private static IReadOnlyList<ClientInfo> WhoAmI(RawWireClient client, int xid)
    {
        client.SendHeaderOnly(xid, OpCode.WhoAmI);
        var (header, body) = client.ReceiveReply();
        Assert.Equal(ZkErrorCode.Ok, header.Err);
        return Jute.Decode<WhoAmIResponse>(body).ClientInfo ?? [];
    }
}
