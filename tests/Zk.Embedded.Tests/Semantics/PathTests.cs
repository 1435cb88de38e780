using Zk.Embedded.Api;
using Zk.Embedded.Tests.Support;

namespace Zk.Embedded.Tests.Semantics;

/// <summary>ZooKeeper's path rules (PathUtils.validatePath) and the reserved /zookeeper subtree (DataTree).</summary>
public sealed class PathTests
{
    public static TheoryData<string> InvalidPaths() => new()
    {
        "a",
        "",
        "a/b",
        "/a/",
        "/a//b",
        "//a",
        "/.",
        "/a/.",
        "/./a",
        "/..",
        "/a/..",
        "/a/../b",
        "/a\u0000b",
        "/a\u0001",
        "/a\u001F",
        "/a\u007F",
        "/a\u0085",
        "/a\u009F",
        "/a\uD800",
        "/a\uE000",
        "/a\uF8FF",
        "/a\uFFF0",
        "/a\uFFFF",
    };

    [Theory]
    [MemberData(nameof(InvalidPaths))]
    public async Task Create_with_an_invalid_path_fails_with_BadArguments(string path)
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await ZkTest.ThrowsAsync(ZkErrorCode.BadArguments, async () => await zk.CreateAsync(path));
        await ZkTest.AssertServesAsync(zk);
    }

    [Theory]
    [MemberData(nameof(InvalidPaths))]
    public async Task Reads_and_writes_with_an_invalid_path_fail_with_BadArguments(string path)
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await ZkTest.ThrowsAsync(ZkErrorCode.BadArguments, async () => await zk.GetDataAsync(path));
        await ZkTest.ThrowsAsync(ZkErrorCode.BadArguments, async () => await zk.ExistsAsync(path));
        await ZkTest.ThrowsAsync(ZkErrorCode.BadArguments, async () => await zk.GetChildrenAsync(path));
        await ZkTest.ThrowsAsync(ZkErrorCode.BadArguments, async () => await zk.SetDataAsync(path, [1]));
        await ZkTest.ThrowsAsync(ZkErrorCode.BadArguments, async () => await zk.DeleteAsync(path));
        await ZkTest.ThrowsAsync(ZkErrorCode.BadArguments, async () => await zk.SetAclAsync(path, Acl.OpenUnsafe));
        await ZkTest.AssertServesAsync(zk);
    }

    [Theory]
    [InlineData("/a.b")]
    [InlineData("/.a")]
    [InlineData("/a.")]
    [InlineData("/..a")]
    [InlineData("/a..")]
    [InlineData("/...")]
    [InlineData("/a b")]
    [InlineData("/a\u00A0b")]
    [InlineData("/\u00e9t\u00e9")]
    [InlineData("/a\uF900")]
    [InlineData("/a\uFFEF")]
    [InlineData("/zookeeperish")]
    public async Task Names_that_only_look_odd_are_valid(string path)
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        Assert.Equal(path, await zk.CreateAsync(path));
        Assert.NotNull(await zk.ExistsAsync(path));
        Assert.Contains(path[1..], await zk.GetChildrenAsync("/"));
    }

    [Fact]
    public async Task A_sequential_create_may_end_with_a_slash()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/p");
        Assert.Equal("/p/0000000000", await zk.CreateAsync("/p/", CreateMode.PersistentSequential));
        Assert.Equal("/p/0000000001", await zk.CreateAsync("/p/", CreateMode.EphemeralSequential));
        Assert.Equal(["0000000000", "0000000001"], (await zk.GetChildrenAsync("/p")).Order());
    }

    [Fact]
    public async Task A_non_sequential_create_ending_with_a_slash_fails_with_BadArguments()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/p");
        await ZkTest.ThrowsAsync(ZkErrorCode.BadArguments, async () => await zk.CreateAsync("/p/"));
    }

    [Fact]
    public async Task A_sequential_create_with_an_empty_segment_fails_with_BadArguments()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/p");
        await ZkTest.ThrowsAsync(ZkErrorCode.BadArguments, async () => await zk.CreateAsync("/p//", CreateMode.PersistentSequential));
    }

    [Fact]
    public async Task Creating_the_root_fails()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        // PrepRequestProcessor: "/" has parent "" which does not exist; a Java client stops it earlier as invalid.
        var e = await Assert.ThrowsAsync<ZkException>(async () => await zk.CreateAsync("/"));
        Assert.Contains(e.Code, new[] { ZkErrorCode.BadArguments, ZkErrorCode.NodeExists, ZkErrorCode.NoNode });
        await ZkTest.AssertServesAsync(zk);
    }

    [Fact]
    public async Task The_zookeeper_node_with_quota_and_config_always_exists()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        Assert.Equal(["zookeeper"], await zk.GetChildrenAsync("/"));
        Assert.Equal(["config", "quota"], (await zk.GetChildrenAsync("/zookeeper")).Order());
        Assert.NotNull(await zk.ExistsAsync("/zookeeper/quota"));
        Assert.NotNull(await zk.ExistsAsync("/zookeeper/config"));
        Assert.Equal(1, (await zk.StatAsync("/")).NumChildren);
    }

    [Theory]
    [InlineData("/")]
    [InlineData("/zookeeper")]
    [InlineData("/zookeeper/quota")]
    [InlineData("/zookeeper/config")]
    public async Task Deleting_a_special_node_fails_with_BadArguments(string path)
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await ZkTest.ThrowsAsync(ZkErrorCode.BadArguments, async () => await zk.DeleteAsync(path));
        Assert.NotNull(await zk.ExistsAsync(path));
    }

    [Fact]
    public async Task The_config_node_is_read_only_to_world()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        var (acl, _) = await zk.GetAclAsync("/zookeeper/config");
        Assert.Equal([new Acl(Perms.Read, Id.Anyone)], acl);
        await ZkTest.ThrowsAsync(ZkErrorCode.NoAuth, async () => await zk.SetDataAsync("/zookeeper/config", [1]));
        await zk.GetDataAsync("/zookeeper/config");
    }

    [Fact]
    public async Task Create_under_a_missing_parent_fails_with_NoNode()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        var e = await ZkTest.ThrowsAsync(ZkErrorCode.NoNode, async () => await zk.CreateAsync("/missing/child"));
        Assert.NotNull(e.Path);
    }

    [Fact]
    public async Task Delete_of_a_node_with_children_fails_with_NotEmpty()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/a");
        await zk.CreateAsync("/a/b");
        await ZkTest.ThrowsAsync(ZkErrorCode.NotEmpty, async () => await zk.DeleteAsync("/a"));
        await ZkTest.ThrowsAsync(ZkErrorCode.NoNode, async () => await zk.DeleteAsync("/a/c"));
    }
}
