using Zk.Embedded.Api;

namespace Zk.Embedded.Tests;

public sealed class SmokeTests
{
    [Fact]
    public async Task Create_get_set_delete_round_trip()
    {
        await using var peer = await ZkPeer.StartAsync(new ZkPeerOptions());
        await using var zk = await peer.ConnectAsync();
        var path = await zk.CreateAsync("/a", [1, 2, 3], Acl.OpenUnsafe, CreateMode.Persistent);
        Assert.Equal("/a", path);
        var (data, stat) = await zk.GetDataAsync("/a");
        Assert.Equal(new byte[] { 1, 2, 3 }, data.ToArray());
        Assert.Equal(0, stat.Version);
        var stat2 = await zk.SetDataAsync("/a", [4], 0);
        Assert.Equal(1, stat2.Version);
        var events = new List<WatchedEvent>();
        await zk.ExistsAsync("/a", e => { lock (events) { events.Add(e); } });
        await zk.DeleteAsync("/a", 1);
        Assert.Null(await zk.ExistsAsync("/a"));
        var ex = await Assert.ThrowsAsync<ZkException>(async () => await zk.GetDataAsync("/a"));
        Assert.Equal(ZkErrorCode.NoNode, ex.Code);
        lock (events)
        {
            Assert.Single(events);
            Assert.Equal(EventType.NodeDeleted, events[0].Type);
        }
    }
}
