using Zk.Embedded.Api;
using Zk.Embedded.Tests.Support;

namespace Zk.Embedded.Tests.Semantics;

/// <summary>Data size limit (jute.maxbuffer) and bad input: always a ZkException with ZooKeeper's code, never a stuck peer.</summary>
public sealed class LimitsTests
{
    [Fact]
    public async Task Data_up_to_the_default_limit_is_accepted_and_one_byte_more_is_BadArguments()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        Assert.Equal(0xfffff, peer.Peer.Options.MaxDataBytes);
        await zk.CreateAsync("/big", CreateMode.Persistent, new byte[0xfffff]);
        Assert.Equal(0xfffff, (await zk.StatAsync("/big")).DataLength);
        await ZkTest.ThrowsAsync(ZkErrorCode.BadArguments, async () => await zk.CreateAsync("/bigger", CreateMode.Persistent, new byte[0xfffff + 1]));
        var tooBig = await ZkTest.ThrowsAsync(ZkErrorCode.BadArguments, async () => await zk.SetDataAsync("/big", new byte[0xfffff + 1]));
        Assert.Equal("/big", tooBig.Path);
        Assert.Contains("1,048,576 bytes", tooBig.Message, StringComparison.Ordinal);
        Assert.Contains("jute.maxbuffer", tooBig.Message, StringComparison.Ordinal);
        Assert.Null(await zk.ExistsAsync("/bigger"));
        Assert.Equal(0, (await zk.StatAsync("/big")).Version);
    }

    [Fact]
    public async Task The_data_limit_is_configurable()
    {
        await using var peer = await TestPeer.StartAsync(o => o with { MaxDataBytes = 10 });
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/ten", CreateMode.Persistent, new byte[10]);
        await ZkTest.ThrowsAsync(ZkErrorCode.BadArguments, async () => await zk.CreateAsync("/eleven", CreateMode.Persistent, new byte[11]));
        await ZkTest.ThrowsAsync(ZkErrorCode.BadArguments, async () => await zk.SetDataAsync("/ten", new byte[11]));
        var e = await ZkTest.ThrowsAsync(ZkErrorCode.BadArguments, async () => await zk.MultiAsync([
            Op.Create("/ok", null, Acl.OpenUnsafe, CreateMode.Persistent),
            Op.SetData("/ten", new byte[11]),
        ]));
        Assert.Equal([new ErrorResult(ZkErrorCode.Ok), new ErrorResult(ZkErrorCode.BadArguments)], e.Results);
        Assert.Null(await zk.ExistsAsync("/ok"));
    }

    [Fact]
    public async Task A_null_path_fails_with_BadArguments()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await ZkTest.ThrowsAsync(ZkErrorCode.BadArguments, async () => await zk.CreateAsync(null!, null, Acl.OpenUnsafe, CreateMode.Persistent));
        await ZkTest.ThrowsAsync(ZkErrorCode.BadArguments, async () => await zk.GetDataAsync(null!));
        await ZkTest.ThrowsAsync(ZkErrorCode.BadArguments, async () => await zk.ExistsAsync(null!));
        await ZkTest.ThrowsAsync(ZkErrorCode.BadArguments, async () => await zk.DeleteAsync(null!));
        await ZkTest.AssertServesAsync(zk);
    }

    [Fact]
    public async Task A_null_acl_or_acl_entry_fails_with_InvalidAcl()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await ZkTest.ThrowsAsync(ZkErrorCode.InvalidAcl, async () => await zk.CreateAsync("/x", null, null!, CreateMode.Persistent));
        await ZkTest.ThrowsAsync(ZkErrorCode.InvalidAcl, async () => await zk.CreateAsync("/x", null, [null!], CreateMode.Persistent));
        await ZkTest.ThrowsAsync(ZkErrorCode.InvalidAcl, async () => await zk.CreateAsync("/x", null, [new Acl(Perms.All, null!)], CreateMode.Persistent));
        await ZkTest.AssertServesAsync(zk);
    }

    [Fact]
    public async Task Unknown_watch_modes_and_types_fail_with_BadArguments()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        var watch = new EventRecorder();
        await zk.GetDataAsync("/zookeeper", watch.Watcher);
        await ZkTest.ThrowsAsync(ZkErrorCode.BadArguments, async () => await zk.AddWatchAsync("/a", watch.Watcher, (AddWatchMode)9));
        await ZkTest.ThrowsAsync(ZkErrorCode.BadArguments, async () => await zk.RemoveWatchesAsync("/zookeeper", watch.Watcher, (WatcherType)9));
        await ZkTest.AssertServesAsync(zk);
    }

    [Fact]
    public async Task A_very_long_path_either_works_or_fails_cleanly()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        var path = "/" + new string('x', 200_000);
        try
        {
            Assert.Equal(path, await zk.CreateAsync(path));
            Assert.NotNull(await zk.ExistsAsync(path));
        }
        catch (ZkException e)
        {
            Assert.Contains(e.Code, new[] { ZkErrorCode.BadArguments, ZkErrorCode.MarshallingError });
        }

        await ZkTest.AssertServesAsync(zk);
    }

    [Fact]
    public async Task Many_sessions_creating_sequential_nodes_at_once_get_distinct_names()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var setup = await peer.ConnectAsync();
        await setup.CreateAsync("/q");
        var sessions = new List<IZooKeeper>();
        for (var i = 0; i < 8; i++)
        {
            sessions.Add(await peer.ConnectAsync());
        }

        var creates = sessions.SelectMany(s => Enumerable.Range(0, 25).Select(_ => s.CreateAsync("/q/n-", CreateMode.EphemeralSequential).AsTask())).ToArray();
        var names = await Task.WhenAll(creates);
        Assert.Equal(200, names.Distinct().Count());
        Assert.Equal(Enumerable.Range(0, 200).Select(i => "/q/n-" + i.ToString("D10")), names.Order());
        foreach (var session in sessions)
        {
            await session.CloseAsync();
        }

        Assert.Empty(await setup.GetChildrenAsync("/q"));
    }

    [Fact]
    public async Task A_failed_request_does_not_disturb_the_next_one()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        var failing = zk.CreateAsync("/none/x").AsTask();
        var next = zk.CreateAsync("/fine").AsTask();
        await ZkTest.ThrowsAsync(ZkErrorCode.NoNode, () => failing);
        Assert.Equal("/fine", await next);
    }
}
