using Zk.Bench.Reporting;
using Zk.Embedded.Api;
using Zk.Embedded.Tree;

namespace Zk.Bench.Memory;

/// <summary>
/// What one znode's parts cost on the heap, measured by allocating each alone. Subtracted from the per-znode figure
/// it shows what the rest (the parent's child map, indexes) costs, which is where savings would have to come from.
/// </summary>
internal static class ObjectSizes
{
    public static string Table(int valueBytes)
    {
        var name = "n0000042";
        var data = new byte[valueBytes];
        var dataBytes = Allocated(() => new byte[valueBytes]);
        var nameBytes = Allocated(() => new string('n', name.Length));
        var nodeBytes = Allocated(() => ZNode.NewLeaf(name, data, AclList.Open, new Zxid(1), 1, 0));
        var table = new MarkdownTable("part of one znode", "bytes");
        table.Add("data byte[] (" + valueBytes + " B payload + array header)", Format.Count(dataBytes));
        table.Add("name string (8 chars)", Format.Count(nameBytes));
        table.Add("ZNode object (fields: 4 refs, 5 longs, 4 ints)", Format.Count(nodeBytes));
        table.Add("sum; the rest of the measured figure is the parent's ChildMap", Format.Count(dataBytes + nameBytes + nodeBytes));
        return table.ToString();
    }

    private static long Allocated(Func<object> make)
    {
        // Warm once so the JIT's own allocations are not counted.
        GC.KeepAlive(make());
        var before = GC.GetAllocatedBytesForCurrentThread();
        var made = make();
        var after = GC.GetAllocatedBytesForCurrentThread();
        GC.KeepAlive(made);
        return after - before;
    }
}
