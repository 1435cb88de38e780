using Zk.Embedded.Api;
using Zk.Embedded.Processing;
using Zk.Embedded.Tests.Support;

namespace Zk.Embedded.Tests.Semantics;

/// <summary>The read engine's typed overloads, which the in-process getData and exists answered at once go through.</summary>
public sealed class ReadEngineTests
{
    private static readonly IReadOnlyList<Id> LocalIds = [new Id("ip", "127.0.0.1")];

    [Fact]
    public async Task Typed_getData_and_exists_allocate_nothing_on_a_found_or_missing_node()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/a", CreateMode.Persistent, new byte[1024]);
        var state = peer.Peer.Core.Pipeline.State;
        Run(state, 10);

        var before = GC.GetAllocatedBytesForCurrentThread();
        var found = Run(state, 100);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(100, found);
        Assert.True(allocated == 0, $"expected typed getData and exists to allocate nothing, but 100 rounds allocated {allocated} bytes");
    }

    [Fact]
    public async Task Exists_answers_NoNode_for_a_missing_node_as_ZooKeepers_server_does()
    {
        await using var peer = await TestPeer.StartAsync();
        var state = peer.Peer.Core.Pipeline.State;

        Assert.Equal(ZkErrorCode.NoNode, ReadEngine.Exists(state, "/none", out Stat? stat));
        Assert.Null(stat);
        Assert.Equal(ZkErrorCode.BadArguments, ReadEngine.Exists(state, "none", out stat));
        Assert.Equal(ZkErrorCode.Ok, ReadEngine.Exists(state, "/zookeeper", out stat));
        Assert.NotNull(stat);
    }

    /// <summary>Rounds of getData and exists on /a and exists on a missing node; returns how many found /a's data.</summary>
    private static int Run(Tree.TreeState state, int rounds)
    {
        var found = 0;
        for (var i = 0; i < rounds; i++)
        {
            if (ReadEngine.GetData(state, "/a", LocalIds, out var data) == ZkErrorCode.Ok && data.Data.Length == 1024 &&
                ReadEngine.Exists(state, "/a", out Stat? stat) == ZkErrorCode.Ok && stat is not null &&
                ReadEngine.Exists(state, "/none", out _) == ZkErrorCode.NoNode)
            {
                found++;
            }
        }

        return found;
    }
}
