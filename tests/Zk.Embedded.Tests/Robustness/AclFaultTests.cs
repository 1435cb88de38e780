using System.Buffers.Binary;
using System.Text;
using Zk.Embedded.Api;
using Zk.Embedded.Tests.Storage;
using Zk.Embedded.Tests.Support;
using Zk.Embedded.Tests.Wire;
using Zk.Embedded.Wire.Jute;

namespace Zk.Embedded.Tests.Robustness;

/// <summary>
/// ACL entries with a null scheme or id, or a scheme without a provider: the request fails alone with ZooKeeper's
/// code (<c>PrepRequestProcessor.fixupACL</c>, and pRequest's catch-all for the NullPointerException a null id
/// causes there), the pipeline goes on, and nothing undecodable reaches the log.
/// </summary>
public sealed class AclFaultTests
{
    public static TheoryData<string?, ZkErrorCode> NullIds => new()
    {
        { "digest", ZkErrorCode.MarshallingError },
        { "ip", ZkErrorCode.MarshallingError },
        { "world", ZkErrorCode.MarshallingError },
        { "super", ZkErrorCode.InvalidAcl },
        { "nosuchscheme", ZkErrorCode.InvalidAcl },
        { null, ZkErrorCode.InvalidAcl },
    };

    [Theory]
    [MemberData(nameof(NullIds))]
    public async Task A_create_or_setAcl_with_a_null_id_fails_alone_and_the_peer_keeps_serving(string? scheme, ZkErrorCode expected)
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        IReadOnlyList<Acl> acl = [new Acl(Perms.All, new Id(scheme!, null!))];
        await zk.CreateAsync("/open");

        await ZkTest.ThrowsAsync(expected, async () => await zk.CreateAsync("/x", null, acl, CreateMode.Persistent));
        await ZkTest.ThrowsAsync(expected, async () => await zk.SetAclAsync("/open", acl));
        var multi = await ZkTest.ThrowsAsync(expected, async () => await zk.MultiAsync([Op.Check("/open", -1), Op.Create("/y", null, acl, CreateMode.Persistent)]));
        // InvalidACL is the create's own result inside the multi; MarshallingError (ZooKeeper's catch-all) fails the whole multi.
        Assert.Equal(expected == ZkErrorCode.MarshallingError ? null : [ZkErrorCode.Ok, expected], multi.Results?.Select(r => ((ErrorResult)r).Code));

        Assert.Null(await zk.ExistsAsync("/x"));
        Assert.Equal(0, (await zk.StatAsync("/open")).Aversion);
        await ZkTest.AssertServesAsync(zk);
        await using var fresh = await peer.ConnectAsync();
        await ZkTest.AssertServesAsync(fresh);
    }

    [Fact]
    public async Task A_super_entry_is_refused_with_InvalidAcl_as_ZooKeeper_has_no_provider_for_it()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await ZkTest.ThrowsAsync(ZkErrorCode.InvalidAcl, async () => await zk.CreateAsync("/s", null, [new Acl(Perms.All, new Id("super", "anyone"))], CreateMode.Persistent));
        Assert.Null(await zk.ExistsAsync("/s"));
    }

    [Theory]
    [InlineData("digest", ZkErrorCode.MarshallingError)]
    [InlineData("world", ZkErrorCode.MarshallingError)]
    [InlineData("super", ZkErrorCode.InvalidAcl)]
    public async Task A_wire_create_whose_acl_id_has_length_minus_one_is_answered_and_the_connection_goes_on(string scheme, ZkErrorCode expected)
    {
        await using var peer = await ZkPeer.StartAsync(new ZkPeerOptions { ClientPort = 0 });
        var (client, _) = await RawWireClient.ConnectAsync(peer.ClientEndPoint!);
        using var _ = client;

        client.SendRaw(CreateFrameWithNullAclId(xid: 1, "/w", scheme));
        var (header, _) = client.ReceiveReply();
        Assert.True(header.Err == expected, $"expected {expected} for {scheme}:<null>, got {header.Err}");

        client.SendRequest(2, OpCode.Create, new CreateRequest("/after", null, Acl.OpenUnsafe, 0));
        Assert.Equal(ZkErrorCode.Ok, client.ReceiveReply().Header.Err);
        var (other, _) = await RawWireClient.ConnectAsync(peer.ClientEndPoint!);
        using var __ = other;
        other.SendRequest(1, OpCode.Create, new CreateRequest("/other", null, Acl.OpenUnsafe, 0));
        Assert.Equal(ZkErrorCode.Ok, other.ReceiveReply().Header.Err);
    }

    [Fact]
    public async Task A_super_entry_with_a_null_id_is_never_logged_and_the_peer_restarts()
    {
        using var dir = new TempDirectory();
        var options = new ZkPeerOptions { DataDir = dir.Path };
        Tree.TreeState before;
        await using (var peer = await ZkPeer.StartAsync(options))
        {
            await using var zk = await peer.ConnectAsync();
            await zk.CreateAsync("/before", null, Acl.OpenUnsafe, CreateMode.Persistent);
            await ZkTest.ThrowsAsync(ZkErrorCode.InvalidAcl, async () => await zk.CreateAsync("/s", null, [new Acl(Perms.All, new Id("super", null!))], CreateMode.Persistent));
            await ZkTest.ThrowsAsync(ZkErrorCode.InvalidAcl, async () => await zk.SetAclAsync("/before", [new Acl(Perms.All, new Id("super", null!))]));
            await zk.CreateAsync("/after", null, Acl.OpenUnsafe, CreateMode.Persistent);
            await zk.CloseAsync();
            before = peer.Core.Pipeline.State;
        }

        await using var restarted = await ZkPeer.StartAsync(options);
        StorageAssert.SameState(before, restarted.Core.Pipeline.State);
        await using var again = await restarted.ConnectAsync();
        Assert.NotNull(await again.ExistsAsync("/after"));
    }

    /// <summary>A create frame written byte by byte, with the ACL entry's id string as length -1 (Java's null).</summary>
    private static byte[] CreateFrameWithNullAclId(int xid, string path, string scheme)
    {
        var body = new List<byte>();
        void Int(int value)
        {
            var bytes = new byte[4];
            BinaryPrimitives.WriteInt32BigEndian(bytes, value);
            body.AddRange(bytes);
        }

        void Text(string value)
        {
            Int(Encoding.UTF8.GetByteCount(value));
            body.AddRange(Encoding.UTF8.GetBytes(value));
        }

        Int(xid);
        Int((int)OpCode.Create);
        Text(path);
        Int(-1);            // data: null
        Int(1);             // one ACL entry
        Int((int)Perms.All);
        Text(scheme);
        Int(-1);            // its id: null
        Int(0);             // flags: persistent
        var frame = new byte[4 + body.Count];
        BinaryPrimitives.WriteInt32BigEndian(frame, body.Count);
        body.CopyTo(frame, 4);
        return frame;
    }
}
