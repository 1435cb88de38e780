using Zk.Embedded.Wire.Client;
using Zk.Embedded.Wire.Jute;

namespace Zk.Embedded.Tests.Wire.Client;

public sealed class SetWatchesBatchesTests
{
    private static List<string> Paths(string prefix, int count, int length) =>
        [.. Enumerable.Range(0, count).Select(i => $"/{prefix}{i:D6}".PadRight(length, 'x'))];

    [Fact]
    public void Few_watches_go_in_one_batch_as_they_are()
    {
        var all = new SetWatches2(7, ["/d"], ["/e"], ["/c"], [], []);
        var batch = Assert.Single(SetWatchesBatches.Split(all));
        Assert.Equal(7, batch.RelativeZxid);
        Assert.Equal(["/d"], batch.DataWatches!);
        Assert.Equal(["/e"], batch.ExistWatches!);
        Assert.Equal(["/c"], batch.ChildWatches!);
        Assert.True(SetWatchesBatches.FitsSetWatches(batch));
    }

    [Fact]
    public void Many_watches_split_at_128K_characters_in_ClientCnxn_order_and_nothing_is_lost()
    {
        // 5 × 1000 paths of 100 characters: 500 K characters, so at least four batches.
        var all = new SetWatches2(42, Paths("d", 1000, 100), Paths("e", 1000, 100), Paths("c", 1000, 100), Paths("p", 1000, 100), Paths("r", 1000, 100));
        var batches = SetWatchesBatches.Split(all);
        Assert.True(batches.Count >= 4, $"expected at least 4 batches, got {batches.Count}");
        foreach (var batch in batches)
        {
            var chars = Lists(batch).Sum(list => list.Sum(p => p.Length));
            // ClientCnxn adds paths while the batch is under the bound, so one path may carry it past.
            Assert.True(chars < SetWatchesBatches.MaxPathChars + 100, $"a batch holds {chars} characters");
            Assert.Equal(42, batch.RelativeZxid);
        }

        for (var list = 0; list < 5; list++)
        {
            Assert.Equal(Lists(all)[list], batches.SelectMany(b => Lists(b)[list]));
        }

        // The first batch is data watches only, so it can go as the old setWatches; the last holds recursive ones.
        Assert.True(SetWatchesBatches.FitsSetWatches(batches[0]));
        Assert.False(SetWatchesBatches.FitsSetWatches(batches[^1]));
    }

    private static IReadOnlyList<string>[] Lists(SetWatches2 w) =>
        [w.DataWatches!, w.ExistWatches!, w.ChildWatches!, w.PersistentWatches!, w.PersistentRecursiveWatches!];
}
