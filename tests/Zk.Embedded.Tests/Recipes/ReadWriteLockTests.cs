using Xunit.Abstractions;
using Zk.Embedded.Api;
using Zk.Embedded.Recipes;
using Zk.Embedded.Tests.Support;

namespace Zk.Embedded.Tests.Recipes;

/// <summary>The read-write lock: Curator's node names and ordering rule, shared readers, exclusive writers, giving up.</summary>
public sealed class ReadWriteLockTests(ITestOutputHelper output) : RecipePeerTest
{
    [Fact]
    public async Task Readers_hold_together_named_as_Curator_names_them_and_a_writer_waits_for_both()
    {
        await using var a = await Peer.ConnectAsync();
        await using var b = await Peer.ConnectAsync();
        await using var w = await Peer.ConnectAsync();
        var first = await a.AcquireReadLockAsync("/rw");
        var second = await b.TryAcquireReadLockAsync("/rw", TimeSpan.FromSeconds(10));
        Assert.NotNull(second);
        Assert.Matches(CuratorNames.Node("__READ__"), ZkPaths.NameOf(first.NodePath));

        var writing = w.AcquireWriteLockAsync("/rw").AsTask();
        await RecipeTestKit.WaitForChildrenAsync(a, "/rw", 3);
        var writerNode = (await a.GetChildrenAsync("/rw")).Single(c => c.Contains("__WRIT__", StringComparison.Ordinal));
        Assert.Matches(CuratorNames.Node("__WRIT__"), writerNode);

        await first.ReleaseAsync();
        Assert.False(writing.IsCompleted, "the writer must wait while a reader still holds");
        await second.ReleaseAsync();
        await using var written = await writing.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(written.FencingToken > second.FencingToken, "the writer's token follows the readers'");
    }

    [Fact]
    public async Task A_reader_behind_a_waiting_writer_waits_so_writers_do_not_starve()
    {
        await using var a = await Peer.ConnectAsync();
        await using var w = await Peer.ConnectAsync();
        await using var late = await Peer.ConnectAsync();
        var reading = await a.AcquireReadLockAsync("/rw");
        var writing = w.AcquireWriteLockAsync("/rw").AsTask();
        await RecipeTestKit.WaitForChildrenAsync(a, "/rw", 2);

        Assert.Null(await late.TryAcquireReadLockAsync("/rw", TimeSpan.FromMilliseconds(50)));
        Assert.Equal(2, (await a.GetChildrenAsync("/rw")).Count);

        await reading.ReleaseAsync();
        await (await writing.WaitAsync(TimeSpan.FromSeconds(10))).ReleaseAsync();
        await using var after = await late.AcquireReadLockAsync("/rw");
        Assert.Equal([after.NodePath], await late.GetEphemeralsAsync("/rw"));
    }

    [Fact]
    public async Task A_writer_that_times_out_or_is_canceled_leaves_no_node_behind()
    {
        await using var reader = await Peer.ConnectAsync();
        await using var writer = await Peer.ConnectAsync();
        await using var held = await reader.AcquireReadLockAsync("/rw");

        Assert.Null(await writer.TryAcquireWriteLockAsync("/rw", TimeSpan.FromMilliseconds(50)));
        using var cancel = new CancellationTokenSource();
        var canceled = writer.AcquireWriteLockAsync("/rw", cancel.Token).AsTask();
        await RecipeTestKit.WaitForChildrenAsync(reader, "/rw", 2);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => canceled);

        Assert.Equal([ZkPaths.NameOf(held.NodePath)], await reader.GetChildrenAsync("/rw"));
        Assert.Empty(await writer.GetEphemeralsAsync());
    }

    [Fact]
    public async Task Readers_and_writers_contending_never_overlap_a_writer_with_anyone()
    {
        var seed = RecipeTestKit.Next(output);
        var inside = new ReadersWriters();
        await using var sessions = await ConnectManyAsync(12);
        await Task.WhenAll(sessions.Select((zk, i) => Task.Run(async () =>
        {
            var random = new Random(seed + i);
            for (var round = 0; round < 5; round++)
            {
                var write = random.Next(3) == 0;
                await using var lease = write ? await zk.AcquireWriteLockAsync("/contended") : await zk.AcquireReadLockAsync("/contended");
                inside.Enter(write);
                await RecipeTestKit.YieldAsync(random, 4);
                inside.Leave(write);
            }
        })));

        Assert.Equal(60, inside.Entries);
        Assert.Empty(await sessions[0].GetChildrenAsync("/contended"));
    }

    [Fact]
    public void A_reader_waits_for_the_first_writer_ahead_of_it_and_nodes_sort_by_sequence_across_both_names()
    {
        var sorted = SequentialContender.Sort(["_c_b-__READ__0000000004", "_c_f-__WRIT__0000000002", "_c_a-__READ__0000000001", "_c_c-__WRIT__0000000003"], ["__READ__", "__WRIT__"]);
        Assert.Equal(["_c_a-__READ__0000000001", "_c_f-__WRIT__0000000002", "_c_c-__WRIT__0000000003", "_c_b-__READ__0000000004"], sorted);
        Assert.Null(DistributedReadWriteLock.ReaderTurn(sorted, 0));
        Assert.Equal("_c_f-__WRIT__0000000002", DistributedReadWriteLock.ReaderTurn(sorted, 3));
    }

    /// <summary>Fails the test when a writer is inside with anyone else.</summary>
    private sealed class ReadersWriters
    {
        private readonly object _gate = new();
        private int _readers;
        private int _writers;

        public int Entries { get; private set; }

        public void Enter(bool write)
        {
            lock (_gate)
            {
                Assert.True(_writers == 0, $"a {(write ? "writer" : "reader")} entered while a writer was inside");
                Assert.True(!write || _readers == 0, $"a writer entered while {_readers} reader(s) were inside");
                _ = write ? _writers++ : _readers++;
                Entries++;
            }
        }

        public void Leave(bool write)
        {
            lock (_gate)
            {
                _ = write ? _writers-- : _readers--;
            }
        }
    }
}
