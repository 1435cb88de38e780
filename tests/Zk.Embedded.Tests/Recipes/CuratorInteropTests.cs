using Xunit.Abstractions;
using Zk.Embedded.Api;
using Zk.Embedded.Recipes;
using Zk.Embedded.Tests.Support;

namespace Zk.Embedded.Tests.Recipes;

/// <summary>
/// Curator's InterProcessMutex (Debian's libcurator, in a JVM) and our lock on the same lock path: each waits while the
/// other holds and takes over on release; each sees the other's node as a contender in the same order.
/// </summary>
[Collection(RunsAlone.Name)]
public sealed class CuratorInteropTests(ITestOutputHelper output)
{
    private const string LockPath = "/mixed/fleet/lock";

    [SkippableFact]
    public Task Curator_and_an_in_process_session_share_a_lock_on_our_peer() => CuratorProbe.OnOurPeerAsync(ShareLockAsync);

    [SkippableFact]
    public Task Curator_and_the_wire_client_share_a_lock_on_Apache_ZooKeeper() => CuratorProbe.OnApacheZooKeeperAsync(ShareLockAsync);

    private async Task ShareLockAsync(IZooKeeper zk, string connectString)
    {
        await using var curator = await CuratorProbe.StartAsync(connectString, LockPath);
        try
        {
            await DotNetHoldsWhileCuratorWaitsAsync(zk, curator);
            await CuratorHoldsWhileDotNetWaitsAsync(zk, curator);
        }
        finally
        {
            output.WriteLine(curator.Transcript);
        }
    }

    private static async Task DotNetHoldsWhileCuratorWaitsAsync(IZooKeeper zk, CuratorProbe curator)
    {
        var lease = await zk.AcquireLockAsync(LockPath);
        await curator.SendAsync("try 300", "timed out");
        Assert.Equal([ZkPaths.NameOf(lease.NodePath)], await zk.GetChildrenAsync(LockPath)); // Curator's timed-out node is gone.

        await curator.SendAsync("acquire", "waiting");
        var children = await ChildrenOnceAsync(zk, LockPath, count: 2);
        Assert.All(children, child => Assert.Matches(CuratorNames.LockNode(), child));
        Assert.Equal(ZkPaths.NameOf(lease.NodePath), SequentialContender.Sort(children, "lock-")[0]);

        await lease.ReleaseAsync();
        await curator.AnswerAsync("acquired");
    }

    private static async Task CuratorHoldsWhileDotNetWaitsAsync(IZooKeeper zk, CuratorProbe curator)
    {
        var curatorNode = (await zk.GetChildrenAsync(LockPath)).Single();
        Assert.Null(await zk.TryAcquireLockAsync(LockPath, TimeSpan.FromMilliseconds(300)));
        Assert.Equal([curatorNode], await zk.GetChildrenAsync(LockPath));

        var waiting = zk.AcquireLockAsync(LockPath).AsTask();
        var children = SequentialContender.Sort(await ChildrenOnceAsync(zk, LockPath, count: 2), "lock-");
        Assert.Equal(curatorNode, children[0]);
        var nodes = await curator.SendAsync("nodes", "nodes ");
        Assert.Equal($"nodes {LockPath}/{children[0]},{LockPath}/{children[1]}", nodes); // Curator orders them as we do.
        Assert.False(waiting.IsCompleted, "the .NET waiter must wait while Curator holds the lock");

        var curatorToken = (await zk.ExistsAsync($"{LockPath}/{curatorNode}"))!.Value.Czxid;
        await curator.SendAsync("release", "released");
        await using var lease = await waiting.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(children[1], ZkPaths.NameOf(lease.NodePath));
        Assert.True(lease.FencingToken > curatorToken, $"expected the .NET holder's token 0x{lease.FencingToken:x} > Curator's 0x{curatorToken:x}");
    }

    /// <summary>Waits, on child watches, until <paramref name="path"/> has <paramref name="count"/> children; returns them.</summary>
    private static async Task<IReadOnlyList<string>> ChildrenOnceAsync(IZooKeeper zk, string path, int count)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (true)
        {
            var changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var children = await zk.GetChildrenAsync(path, _ => changed.TrySetResult());
            if (children.Count == count)
            {
                return children;
            }

            try
            {
                await changed.Task.WaitAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"expected {count} children under {path} within 30 s, saw [{string.Join(", ", children)}]");
            }
        }
    }
}
