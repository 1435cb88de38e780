using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Zk.Bench.Reporting;
using Zk.Embedded;
using Zk.Embedded.Api;

namespace Zk.Bench.Memory;

/// <summary>
/// Live managed memory per znode: the heap after a full collection, with N znodes, minus the heap before them,
/// divided by N. The figure the memory target speaks of ("live memory per 1 KiB znode within 1.25x of its data").
/// </summary>
internal static class MemoryCommand
{
    /// <summary>Creates in flight at once: enough to fill pipeline batches, so the fill takes seconds, not minutes.</summary>
    private const int CreateWindow = 512;

    public static Command Define()
    {
        var nodes = BenchOption.Int("--nodes", 100_000, 1, 10_000_000, "znodes to create");
        var valueBytes = BenchOption.Int("--value-bytes", 1024, 0, 1 << 20, "bytes of data per znode");
        var command = new Command("memory", "live managed memory per znode, under 1 and under 100 parents") { nodes, valueBytes };
        command.SetAction((r, _) => RunAsync(r.GetValue(nodes), r.GetValue(valueBytes)));
        return command;
    }

    private static async Task RunAsync(int nodes, int valueBytes)
    {

        Console.WriteLine(MachineInfo.Describe());
        Console.WriteLine();
        var table = new MarkdownTable("layout", "znodes", "value B", "live heap Δ", "B/znode", "× value", "overhead B/znode", "RSS after", "fill s");
        table.Add(await MeasureAsync("1 parent", nodes, valueBytes, parents: 1).ConfigureAwait(false));
        table.Add(await MeasureAsync("100 parents", nodes, valueBytes, parents: 100).ConfigureAwait(false));
        Console.Write(table);
        Console.WriteLine();
        Console.Write(ObjectSizes.Table(valueBytes));
    }

    private static async Task<string[]> MeasureAsync(string layout, int nodes, int valueBytes, int parents)
    {
        await using var peer = await ZkPeer.StartAsync(new ZkPeerOptions()).ConfigureAwait(false);
        await using var session = await peer.ConnectAsync().ConfigureAwait(false);
        var value = new byte[valueBytes];
        Random.Shared.NextBytes(value);
        var parentPaths = new string[parents];
        for (var p = 0; p < parents; p++)
        {
            parentPaths[p] = parents == 1 ? "/mem" : "/mem" + p.ToString("D2", CultureInfo.InvariantCulture);
            await session.CreateAsync(parentPaths[p], null, Acl.OpenUnsafe, CreateMode.Persistent).ConfigureAwait(false);
        }

        var before = LiveHeapBytes();
        var fill = Stopwatch.StartNew();
        await FillAsync(session, parentPaths, nodes, value).ConfigureAwait(false);
        fill.Stop();
        var after = LiveHeapBytes();
        var perNode = (after - before) / (double)nodes;
        using var process = Process.GetCurrentProcess();
        var row = new[]
        {
            layout,
            Format.Count(nodes),
            Format.Count(valueBytes),
            Format.Bytes(after - before),
            Format.Count(perNode),
            valueBytes == 0 ? "n/a" : Format.Fixed(perNode / valueBytes, 3),
            Format.Count(perNode - valueBytes),
            Format.Bytes(process.WorkingSet64),
            Format.Fixed(fill.Elapsed.TotalSeconds, 1),
        };
        GC.KeepAlive(peer);
        return row;
    }

    /// <summary>Names like n0000042 (8 chars), spread round-robin over the parents.</summary>
    private static async Task FillAsync(IZooKeeper session, string[] parents, int nodes, byte[] value)
    {
        var pending = new List<Task>(CreateWindow);
        for (var i = 0; i < nodes; i++)
        {
            var path = parents[i % parents.Length] + "/n" + i.ToString("D7", CultureInfo.InvariantCulture);
            pending.Add(session.CreateAsync(path, value, Acl.OpenUnsafe, CreateMode.Persistent).AsTask());
            if (pending.Count == CreateWindow)
            {
                await Task.WhenAll(pending).ConfigureAwait(false);
                pending.Clear();
            }
        }

        await Task.WhenAll(pending).ConfigureAwait(false);
    }

    /// <summary>The heap after full, compacting collections, repeated until finalizers and pipeline leftovers are gone.</summary>
    private static long LiveHeapBytes()
    {
        for (var i = 0; i < 3; i++)
        {
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
        }

        return GC.GetTotalMemory(forceFullCollection: true);
    }
}
