using Zk.Embedded.Api;
using Zk.Embedded.Tests.Support;

namespace Zk.Embedded.Tests.Semantics;

/// <summary>Which Stat field changes on which operation (DataTree.createNode/deleteNode/setData/setACL, DataNode.copyStat).</summary>
public sealed class StatTests
{
    [Fact]
    public async Task A_new_node_has_its_create_zxid_and_time_everywhere()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        var now = peer.Time.GetUtcNow().ToUnixTimeMilliseconds();
        var stat = (await zk.CreateWithStatAsync("/n", [1, 2, 3], Acl.OpenUnsafe, CreateMode.Persistent)).Stat;
        Assert.Equal(peer.Peer.LastZxid, stat.Czxid);
        Assert.Equal(stat.Czxid, stat.Mzxid);
        Assert.Equal(stat.Czxid, stat.Pzxid);
        Assert.Equal(now, stat.Ctime);
        Assert.Equal(now, stat.Mtime);
        Assert.Equal(0, stat.Version);
        Assert.Equal(0, stat.Cversion);
        Assert.Equal(0, stat.Aversion);
        Assert.Equal(0, stat.EphemeralOwner);
        Assert.Equal(3, stat.DataLength);
        Assert.Equal(0, stat.NumChildren);
    }

    [Fact]
    public async Task Set_data_changes_mzxid_mtime_version_and_length_only()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        var before = (await zk.CreateWithStatAsync("/n", [1], Acl.OpenUnsafe, CreateMode.Persistent)).Stat;
        peer.Advance(TimeSpan.FromMilliseconds(1234));
        var after = await zk.SetDataAsync("/n", [1, 2, 3, 4]);
        Assert.True(after.Mzxid > before.Mzxid, $"mzxid {after.Mzxid} should pass {before.Mzxid}");
        Assert.Equal(before.Mtime + 1234, after.Mtime);
        Assert.Equal(1, after.Version);
        Assert.Equal(4, after.DataLength);
        Assert.Equal(before with { Mzxid = after.Mzxid, Mtime = after.Mtime, Version = 1, DataLength = 4 }, after);
        Assert.Equal(after, await zk.StatAsync("/n"));
    }

    [Fact]
    public async Task A_child_create_changes_the_parent_pzxid_cversion_and_numChildren_only()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/p", CreateMode.Persistent, [9]);
        var before = await zk.StatAsync("/p");
        peer.Advance(TimeSpan.FromSeconds(1));
        var child = (await zk.CreateWithStatAsync("/p/c", null, Acl.OpenUnsafe, CreateMode.Persistent)).Stat;
        var after = await zk.StatAsync("/p");
        Assert.Equal(child.Czxid, after.Pzxid);
        Assert.Equal(before with { Pzxid = child.Czxid, Cversion = 1, NumChildren = 1 }, after);
    }

    [Fact]
    public async Task A_child_delete_changes_the_parent_pzxid_cversion_and_numChildren_only()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/p");
        await zk.CreateAsync("/p/c");
        var before = await zk.StatAsync("/p");
        await zk.DeleteAsync("/p/c");
        var after = await zk.StatAsync("/p");
        Assert.Equal(peer.Peer.LastZxid, after.Pzxid);
        Assert.True(after.Pzxid > before.Pzxid);
        Assert.Equal(before with { Pzxid = after.Pzxid, Cversion = 2, NumChildren = 0 }, after);
    }

    [Fact]
    public async Task Grandchild_changes_do_not_touch_the_grandparent()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/a");
        await zk.CreateAsync("/a/b");
        var before = await zk.StatAsync("/a");
        await zk.CreateAsync("/a/b/c");
        await zk.SetDataAsync("/a/b/c", [1]);
        await zk.DeleteAsync("/a/b/c");
        Assert.Equal(before, await zk.StatAsync("/a"));
    }

    [Fact]
    public async Task Set_acl_changes_aversion_only()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/n", CreateMode.Persistent, [1]);
        var before = await zk.StatAsync("/n");
        peer.Advance(TimeSpan.FromSeconds(1));
        var after = await zk.SetAclAsync("/n", Acl.ReadUnsafe);
        Assert.Equal(before with { Aversion = 1 }, after);
        Assert.Equal(after, await zk.StatAsync("/n"));
    }

    [Fact]
    public async Task Cversion_counts_creates_and_deletes_of_children()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/p");
        for (var i = 0; i < 3; i++)
        {
            await zk.CreateAsync($"/p/{i}");
        }

        await zk.DeleteAsync("/p/1");
        var stat = await zk.StatAsync("/p");
        Assert.Equal(4, stat.Cversion);
        Assert.Equal(2, stat.NumChildren);
        var (children, listStat) = await zk.GetChildrenWithStatAsync("/p");
        Assert.Equal(stat, listStat);
        Assert.Equal(["0", "2"], children.Order());
    }

    [Fact]
    public async Task Each_write_gets_a_strictly_larger_zxid()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        var last = peer.Peer.LastZxid;
        var created = (await zk.CreateWithStatAsync("/z", null, Acl.OpenUnsafe, CreateMode.Persistent)).Stat.Czxid;
        Assert.True(created > last);
        var set1 = (await zk.SetDataAsync("/z", [1])).Mzxid;
        var set2 = (await zk.SetDataAsync("/z", [2])).Mzxid;
        var child = (await zk.CreateWithStatAsync("/z/c", null, Acl.OpenUnsafe, CreateMode.Persistent)).Stat.Czxid;
        Assert.True(created < set1 && set1 < set2 && set2 < child, $"{created} < {set1} < {set2} < {child}");
        Assert.Equal(child, peer.Peer.LastZxid);
    }

    [Fact]
    public async Task The_ops_of_one_multi_share_one_zxid()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        var results = await zk.MultiAsync([
            Op.Create("/a", null, Acl.OpenUnsafe, CreateMode.Persistent),
            Op.Create("/b", null, Acl.OpenUnsafe, CreateMode.Persistent),
            Op.SetData("/a", [1]),
        ]);
        var a = await zk.StatAsync("/a");
        var b = await zk.StatAsync("/b");
        Assert.Equal(a.Czxid, b.Czxid);
        Assert.Equal(a.Czxid, a.Mzxid);
        Assert.Equal(1, a.Version);
        Assert.Equal(a, ((SetDataResult)results[2]).Stat);
    }

    [Fact]
    public async Task An_ephemeral_stat_names_its_session()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await using var other = await peer.ConnectAsync();
        await zk.CreateAsync("/e", CreateMode.Ephemeral);
        Assert.Equal(zk.SessionId, (await other.StatAsync("/e")).EphemeralOwner);
        Assert.NotEqual(zk.SessionId, other.SessionId);
    }

    [Fact]
    public async Task Stat_reads_agree_across_exists_getData_getChildren_and_getAcl()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/n", CreateMode.Persistent, [5, 6]);
        await zk.CreateAsync("/n/c");
        var stat = await zk.StatAsync("/n");
        Assert.Equal(stat, (await zk.GetDataAsync("/n")).Stat);
        Assert.Equal(stat, (await zk.GetChildrenWithStatAsync("/n")).Stat);
        Assert.Equal(stat, (await zk.GetAclAsync("/n")).Stat);
    }
}
