using System.Security.Cryptography;
using System.Text;
using Zk.Embedded.Api;
using Zk.Embedded.Tests.Support;

namespace Zk.Embedded.Tests.Semantics;

/// <summary>ACL checks per operation and the world/auth/digest/ip/super schemes (PrepRequestProcessor, FinalRequestProcessor).</summary>
public sealed class AclTests
{
    private static Id Digest(string user, string password) =>
        new("digest", user + ":" + Convert.ToBase64String(SHA1.HashData(Encoding.UTF8.GetBytes(user + ":" + password))));

    private static IReadOnlyList<Acl> World(Perms perms) => [new Acl(perms, Id.Anyone)];

    private static Task AuthAsync(IZooKeeper zk, string user, string password) =>
        zk.AddAuthInfoAsync("digest", Encoding.UTF8.GetBytes(user + ":" + password)).AsTask();

    [Fact]
    public async Task Create_needs_CREATE_on_the_parent()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/no", null, World(Perms.All & ~Perms.Create), CreateMode.Persistent);
        await zk.CreateAsync("/yes", null, World(Perms.Create), CreateMode.Persistent);
        await ZkTest.ThrowsAsync(ZkErrorCode.NoAuth, async () => await zk.CreateAsync("/no/c"));
        await zk.CreateAsync("/yes/c");
    }

    [Fact]
    public async Task Delete_needs_DELETE_on_the_parent_and_not_on_the_node()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/no", null, World(Perms.All & ~Perms.Delete), CreateMode.Persistent);
        await zk.CreateAsync("/no/c", null, World(Perms.All), CreateMode.Persistent);
        await ZkTest.ThrowsAsync(ZkErrorCode.NoAuth, async () => await zk.DeleteAsync("/no/c"));
        await zk.CreateAsync("/yes", null, World(Perms.Delete | Perms.Create), CreateMode.Persistent);
        await zk.CreateAsync("/yes/c", null, World(Perms.None), CreateMode.Persistent);
        await zk.DeleteAsync("/yes/c");
        Assert.Null(await zk.ExistsAsync("/yes/c"));
    }

    [Fact]
    public async Task Set_data_needs_WRITE()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/no", null, World(Perms.All & ~Perms.Write), CreateMode.Persistent);
        await zk.CreateAsync("/yes", null, World(Perms.Write), CreateMode.Persistent);
        await ZkTest.ThrowsAsync(ZkErrorCode.NoAuth, async () => await zk.SetDataAsync("/no", [1]));
        await zk.SetDataAsync("/yes", [1]);
    }

    [Fact]
    public async Task Get_data_get_children_and_check_need_READ()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/no", null, World(Perms.All & ~Perms.Read), CreateMode.Persistent);
        await zk.CreateAsync("/yes", null, World(Perms.Read), CreateMode.Persistent);
        await ZkTest.ThrowsAsync(ZkErrorCode.NoAuth, async () => await zk.GetDataAsync("/no"));
        await ZkTest.ThrowsAsync(ZkErrorCode.NoAuth, async () => await zk.GetChildrenAsync("/no"));
        await ZkTest.ThrowsAsync(ZkErrorCode.NoAuth, async () => await zk.GetAllChildrenNumberAsync("/no"));
        await ZkTest.ThrowsAsync(ZkErrorCode.NoAuth, async () => await zk.MultiAsync([Op.Check("/no", -1)]));
        await zk.GetDataAsync("/yes");
        await zk.GetChildrenAsync("/yes");
        await zk.MultiAsync([Op.Check("/yes", 0)]);
    }

    [Fact]
    public async Task Exists_needs_no_permission()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/none", null, World(Perms.None), CreateMode.Persistent);
        Assert.NotNull(await zk.ExistsAsync("/none"));
    }

    [Fact]
    public async Task Set_acl_needs_ADMIN()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/no", null, World(Perms.All & ~Perms.Admin), CreateMode.Persistent);
        await zk.CreateAsync("/yes", null, World(Perms.Admin), CreateMode.Persistent);
        await ZkTest.ThrowsAsync(ZkErrorCode.NoAuth, async () => await zk.SetAclAsync("/no", Acl.OpenUnsafe));
        Assert.Equal(1, (await zk.SetAclAsync("/yes", Acl.OpenUnsafe)).Aversion);
    }

    [Fact]
    public async Task Get_acl_needs_READ_or_ADMIN()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/none", null, World(Perms.Write | Perms.Create | Perms.Delete), CreateMode.Persistent);
        await zk.CreateAsync("/read", null, World(Perms.Read), CreateMode.Persistent);
        await zk.CreateAsync("/admin", null, World(Perms.Admin), CreateMode.Persistent);
        await ZkTest.ThrowsAsync(ZkErrorCode.NoAuth, async () => await zk.GetAclAsync("/none"));
        Assert.Equal(World(Perms.Read), (await zk.GetAclAsync("/read")).Acl);
        Assert.Equal(World(Perms.Admin), (await zk.GetAclAsync("/admin")).Acl);
    }

    [Fact]
    public async Task Get_acl_without_ADMIN_hides_digest_hashes()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        var alice = Digest("alice", "pw");
        await zk.CreateAsync("/n", null, [new Acl(Perms.Read, Id.Anyone), new Acl(Perms.All, alice)], CreateMode.Persistent);
        Assert.Equal([new Acl(Perms.Read, Id.Anyone), new Acl(Perms.All, new Id("digest", "alice:x"))], (await zk.GetAclAsync("/n")).Acl);
        await AuthAsync(zk, "alice", "pw");
        Assert.Equal([new Acl(Perms.Read, Id.Anyone), new Acl(Perms.All, alice)], (await zk.GetAclAsync("/n")).Acl);
    }

    [Fact]
    public async Task Digest_auth_grants_what_the_digest_entry_allows()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var alice = await peer.ConnectAsync();
        await using var mallory = await peer.ConnectAsync();
        await using var anonymous = await peer.ConnectAsync();
        await AuthAsync(alice, "alice", "secret");
        // A wrong password is accepted, but it is a different identity.
        await AuthAsync(mallory, "alice", "guess");
        await anonymous.CreateAsync("/d", null, [new Acl(Perms.All, Digest("alice", "secret"))], CreateMode.Persistent);
        await alice.SetDataAsync("/d", [1]);
        Assert.Equal([1], (await alice.GetDataAsync("/d")).Data.ToArray());
        await ZkTest.ThrowsAsync(ZkErrorCode.NoAuth, async () => await mallory.GetDataAsync("/d"));
        await ZkTest.ThrowsAsync(ZkErrorCode.NoAuth, async () => await anonymous.GetDataAsync("/d"));
    }

    [Fact]
    public async Task Creator_all_without_auth_fails_with_InvalidAcl()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await ZkTest.ThrowsAsync(ZkErrorCode.InvalidAcl, async () => await zk.CreateAsync("/c", null, Acl.CreatorAll, CreateMode.Persistent));
        await zk.CreateAsync("/open");
        await ZkTest.ThrowsAsync(ZkErrorCode.InvalidAcl, async () => await zk.SetAclAsync("/open", Acl.CreatorAll));
        Assert.Null(await zk.ExistsAsync("/c"));
    }

    [Fact]
    public async Task Creator_all_with_digest_auth_stores_the_creator_digest()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await using var other = await peer.ConnectAsync();
        await AuthAsync(zk, "bob", "pw");
        await zk.CreateAsync("/c", null, Acl.CreatorAll, CreateMode.Persistent);
        Assert.Equal([new Acl(Perms.All, Digest("bob", "pw"))], (await zk.GetAclAsync("/c")).Acl);
        await ZkTest.ThrowsAsync(ZkErrorCode.NoAuth, async () => await other.GetDataAsync("/c"));
        await AuthAsync(other, "bob", "pw");
        await other.GetDataAsync("/c");
    }

    [Theory]
    [InlineData("127.0.0.1", true)]
    [InlineData("127.0.0.0/8", true)]
    [InlineData("127.0.0.1/32", true)]
    [InlineData("0.0.0.0/0", true)]
    [InlineData("10.0.0.1", false)]
    [InlineData("10.0.0.0/8", false)]
    [InlineData("127.0.0.2", false)]
    public async Task Ip_entries_match_the_session_address_127_0_0_1(string entry, bool allowed)
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/ip", null, [new Acl(Perms.Read, new Id("ip", entry)), new Acl(Perms.Admin, Id.Anyone)], CreateMode.Persistent);
        if (allowed)
        {
            await zk.GetDataAsync("/ip");
        }
        else
        {
            await ZkTest.ThrowsAsync(ZkErrorCode.NoAuth, async () => await zk.GetDataAsync("/ip"));
        }
    }

    [Theory]
    [InlineData("ip", "not-an-address")]
    [InlineData("ip", "127.0.0.1/33")]
    [InlineData("digest", "no-colon")]
    [InlineData("world", "someone")]
    [InlineData("nosuchscheme", "x")]
    public async Task An_acl_entry_its_scheme_rejects_fails_with_InvalidAcl(string scheme, string identity)
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await ZkTest.ThrowsAsync(ZkErrorCode.InvalidAcl, async () => await zk.CreateAsync("/x", null, [new Acl(Perms.All, new Id(scheme, identity))], CreateMode.Persistent));
        Assert.Null(await zk.ExistsAsync("/x"));
    }

    [Fact]
    public async Task An_empty_acl_fails_with_InvalidAcl()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await ZkTest.ThrowsAsync(ZkErrorCode.InvalidAcl, async () => await zk.CreateAsync("/x", null, [], CreateMode.Persistent));
        await zk.CreateAsync("/y");
        await ZkTest.ThrowsAsync(ZkErrorCode.InvalidAcl, async () => await zk.SetAclAsync("/y", []));
        Assert.Equal(0, (await zk.StatAsync("/y")).Aversion);
    }

    [Fact]
    public async Task Duplicate_entries_are_removed()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        var entry = new Acl(Perms.All, Id.Anyone);
        await zk.CreateAsync("/d", null, [entry, new Acl(Perms.All, new Id("world", "anyone")), entry], CreateMode.Persistent);
        Assert.Equal([entry], (await zk.GetAclAsync("/d")).Acl);
        await zk.SetAclAsync("/d", [new Acl(Perms.Read, Id.Anyone), new Acl(Perms.Read, Id.Anyone), entry]);
        Assert.Equal([new Acl(Perms.Read, Id.Anyone), entry], (await zk.GetAclAsync("/d")).Acl);
    }

    [Fact]
    public async Task Set_acl_bumps_aversion_and_not_version()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/a");
        var stat = await zk.SetAclAsync("/a", World(Perms.Read | Perms.Admin));
        Assert.Equal(1, stat.Aversion);
        Assert.Equal(0, stat.Version);
        await ZkTest.ThrowsAsync(ZkErrorCode.NoAuth, async () => await zk.SetDataAsync("/a", [1]));
    }

    [Fact]
    public async Task A_super_digest_passes_every_check()
    {
        var superDigest = Digest("super", "root-secret").Identity;
        await using var peer = await TestPeer.StartAsync(o => o with { SuperDigest = superDigest });
        await using var zk = await peer.ConnectAsync();
        await using var admin = await peer.ConnectAsync();
        await zk.CreateAsync("/locked", null, World(Perms.None), CreateMode.Persistent);
        await ZkTest.ThrowsAsync(ZkErrorCode.NoAuth, async () => await admin.GetDataAsync("/locked"));
        await AuthAsync(admin, "super", "root-secret");
        await admin.GetDataAsync("/locked");
        await admin.SetDataAsync("/locked", [1]);
        await admin.CreateAsync("/locked/c");
        await admin.DeleteAsync("/locked/c");
        await admin.SetAclAsync("/locked", Acl.OpenUnsafe);
        Assert.Contains(new ClientInfo("super", ""), await admin.WhoAmIAsync());
    }

    [Fact]
    public async Task A_wrong_super_password_gives_no_super_powers()
    {
        await using var peer = await TestPeer.StartAsync(o => o with { SuperDigest = Digest("super", "root-secret").Identity });
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/locked", null, World(Perms.None), CreateMode.Persistent);
        await AuthAsync(zk, "super", "wrong");
        await ZkTest.ThrowsAsync(ZkErrorCode.NoAuth, async () => await zk.GetDataAsync("/locked"));
    }

    [Fact]
    public async Task An_unknown_auth_scheme_fails_with_AuthFailed()
    {
        await using var peer = await TestPeer.StartAsync();
        var state = new EventRecorder("default watcher");
        await using var zk = await peer.ConnectAsync(state.Watcher);
        await ZkTest.ThrowsAsync(ZkErrorCode.AuthFailed, async () => await zk.AddAuthInfoAsync("kerberos-ish", [1, 2]));
        await state.WaitForStateAsync(KeeperState.AuthFailed);
        await using var other = await peer.ConnectAsync();
        await ZkTest.AssertServesAsync(other);
    }

    [Fact]
    public async Task Who_am_i_lists_the_ip_and_then_each_digest_user()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        Assert.Equal([new ClientInfo("ip", "127.0.0.1")], await zk.WhoAmIAsync());
        await AuthAsync(zk, "carol", "pw");
        // AuthUtil.getClientInfos reports DigestAuthenticationProvider.getUserName: the user part only.
        Assert.Equal([new ClientInfo("ip", "127.0.0.1"), new ClientInfo("digest", "carol")], await zk.WhoAmIAsync());
    }
}
