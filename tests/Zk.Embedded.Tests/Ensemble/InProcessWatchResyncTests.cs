using Xunit.Abstractions;
using Zk.Embedded.Api;
using Zk.Embedded.Tests.Support;
using Zk.Transport.InMemory;

namespace Zk.Embedded.Tests.Ensemble;

/// <summary>
/// An in-process session's watches across its member's time without a leader. A ZooKeeper client reconnects after its
/// server left broadcast and sets its watches again with the newest zxid it had seen (setWatches), so a watched node
/// that changed meanwhile fires at once. An in-process session stays attached to its member, which may come back by
/// SNAP (a tree restored whole, with no txn applied one by one to fire triggers): its watches must fire all the same.
/// </summary>
[Collection(RunsAlone.Name)]
public sealed class InProcessWatchResyncTests(ITestOutputHelper output) : IDisposable
{
    private readonly TraceLogger _log = new();

    public void Dispose() => output.WriteLine(_log.Tail());

    [Theory]
    [InlineData(20, "diff")]
    [InlineData(600, "snap")]
    public async Task A_watch_on_a_follower_that_was_cut_off_fires_once_for_the_change_it_missed(int writes, string sync)
    {
        await using var ensemble = await EnsembleKit.StartAsync(output, _log, 3);
        var (leader, behind) = (ensemble.Leader!.Value, ensemble.Followers[0]);
        await using var writer = await ensemble.ConnectAsync(leader);
        await writer.CreateAsync("/w", "old"u8.ToArray(), Acl.OpenUnsafe, CreateMode.Persistent);
        await writer.CreateAsync("/kids", [], Acl.OpenUnsafe, CreateMode.Persistent);
        await EnsembleKit.AssertConvergedAsync(ensemble, p => p.Core.Pipeline.State.Find("/kids") is not null);
        await using var watcher = await ensemble.ConnectAsync(behind);
        var data = new EventRecorder("data");
        var children = new EventRecorder("children");
        var stable = new EventRecorder("stable");
        await watcher.GetDataAsync("/w", data.Watcher);
        await watcher.GetChildrenAsync("/kids", children.Watcher);
        await watcher.ExistsAsync("/kids", stable.Watcher);

        ensemble.Partition(behind);
        await EnsembleKit.WaitAsync(() => !ensemble[behind].IsServing, () => $"expected server {behind} to stop serving once cut off");
        await writer.SetDataAsync("/w", "new"u8.ToArray());
        await writer.CreateAsync("/kids/k", [], Acl.OpenUnsafe, CreateMode.Persistent);
        // Past the leader's committed-log window (500 txns) the follower comes back by SNAP, within it by DIFF.
        await Task.WhenAll(Enumerable.Range(0, writes).Select(i => writer.CreateAsync($"/s{i}", [], Acl.OpenUnsafe, CreateMode.Persistent).AsTask()));

        ensemble.Heal();
        await EnsembleKit.AssertConvergedAsync(ensemble, p => p.Core.Pipeline.State.Find($"/s{writes - 1}") is not null);
        var syncs = _log.Lines.Where(l => l.Contains($"syncs learner {behind} by ", StringComparison.Ordinal)).ToList();
        Assert.True(syncs.Count > 0 && syncs[^1].Contains($"by {sync} ", StringComparison.Ordinal), $"expected server {behind} to come back by {sync}: {string.Join(" | ", syncs)}");

        await data.WaitForAsync(EventType.NodeDataChanged, "/w");
        await children.WaitForAsync(EventType.NodeChildrenChanged, "/kids");
        Assert.Equal("new"u8.ToArray(), (await watcher.GetDataAsync("/w")).Data.ToArray());

        // Fired once, not again on the next change; the watch on an unchanged node still stands.
        await writer.SetDataAsync("/w", "newer"u8.ToArray());
        await writer.SetDataAsync("/kids", "changed"u8.ToArray());
        await stable.WaitForAsync(EventType.NodeDataChanged, "/kids");
        Assert.Equal(1, data.Count(EventType.NodeDataChanged, "/w"));
        Assert.Equal(1, children.Count(EventType.NodeChildrenChanged, "/kids"));
    }
}
