using System.Text;
using Zk.Embedded.Api;

namespace Zk.Embedded.Tests.Semantics;

/// <summary>
/// Quota stats as ZooKeeper keeps them (DataTree.updateQuotaForPath / updateQuotaStat): zkCli's setquota creates
/// zookeeper_limits and zookeeper_stats under /zookeeper/quota/&lt;path&gt;, and the peer keeps the stats current.
/// </summary>
public sealed class QuotaTests
{
    [Fact]
    public async Task Stats_count_the_subtree_when_created_and_follow_creates_sets_and_deletes_below_the_quota_path()
    {
        await using var peer = await ZkPeer.StartAsync(new ZkPeerOptions());
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/q", "x"u8.ToArray(), Acl.OpenUnsafe, CreateMode.Persistent);
        await zk.CreateAsync("/q/a", "hello"u8.ToArray(), Acl.OpenUnsafe, CreateMode.Persistent);

        // What zkCli's setquota -n 5 /q sends.
        await zk.CreateAsync("/zookeeper/quota/q", null, Acl.OpenUnsafe, CreateMode.Persistent);
        await zk.CreateAsync("/zookeeper/quota/q/zookeeper_limits", "count=5,bytes=-1"u8.ToArray(), Acl.OpenUnsafe, CreateMode.Persistent);
        await zk.CreateAsync("/zookeeper/quota/q/zookeeper_stats", "count=0,bytes=0"u8.ToArray(), Acl.OpenUnsafe, CreateMode.Persistent);
        Assert.Equal("count=2,bytes=6", await StatsAsync(zk));

        await zk.CreateAsync("/q/a/b", "12"u8.ToArray(), Acl.OpenUnsafe, CreateMode.Persistent);
        Assert.Equal("count=3,bytes=8", await StatsAsync(zk));
        await zk.SetDataAsync("/q/a", "hi"u8.ToArray());
        Assert.Equal("count=3,bytes=5", await StatsAsync(zk));
        await zk.DeleteAsync("/q/a/b");
        Assert.Equal("count=2,bytes=3", await StatsAsync(zk));
        await zk.CreateAsync("/qq", "not under /q"u8.ToArray(), Acl.OpenUnsafe, CreateMode.Persistent);
        Assert.Equal("count=2,bytes=3", await StatsAsync(zk));

        // The stats node's own stat does not move: the peer rewrites its data in place, as ZooKeeper does.
        Assert.Equal(0, (await zk.GetDataAsync("/zookeeper/quota/q/zookeeper_stats")).Stat.Version);

        await zk.DeleteAsync("/zookeeper/quota/q/zookeeper_limits");
        await zk.SetDataAsync("/q", "longer"u8.ToArray());
        Assert.Equal("count=2,bytes=3", await StatsAsync(zk));
    }

    [Fact]
    public async Task A_path_that_only_starts_with_zookeeper_is_counted_like_any_other()
    {
        await using var peer = await ZkPeer.StartAsync(new ZkPeerOptions());
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/zookeeperx", "ab"u8.ToArray(), Acl.OpenUnsafe, CreateMode.Persistent);
        await zk.CreateAsync("/zookeeper/quota/zookeeperx", null, Acl.OpenUnsafe, CreateMode.Persistent);
        await zk.CreateAsync("/zookeeper/quota/zookeeperx/zookeeper_limits", "count=5,bytes=-1"u8.ToArray(), Acl.OpenUnsafe, CreateMode.Persistent);
        await zk.CreateAsync("/zookeeper/quota/zookeeperx/zookeeper_stats", "count=0,bytes=0"u8.ToArray(), Acl.OpenUnsafe, CreateMode.Persistent);
        Assert.Equal("count=1,bytes=2", await StatsAsync(zk, "/zookeeperx"));

        // Only the /zookeeper subtree is left out of quota accounting (DataTree keeps no quota on it).
        await zk.CreateAsync("/zookeeperx/a", "hello"u8.ToArray(), Acl.OpenUnsafe, CreateMode.Persistent);
        await zk.SetDataAsync("/zookeeperx", "abcd"u8.ToArray());
        Assert.Equal("count=2,bytes=9", await StatsAsync(zk, "/zookeeperx"));
        await zk.DeleteAsync("/zookeeperx/a");
        Assert.Equal("count=1,bytes=4", await StatsAsync(zk, "/zookeeperx"));
    }

    private static async Task<string> StatsAsync(IZooKeeper zk, string path = "/q") =>
        Encoding.UTF8.GetString((await zk.GetDataAsync("/zookeeper/quota" + path + "/zookeeper_stats")).Data.Span);
}
