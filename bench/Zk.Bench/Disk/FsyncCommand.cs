using Zk.Bench.Reporting;

namespace Zk.Bench.Disk;

/// <summary><c>fsync</c>: the raw sync latency of a directory's disk, both ways (see <see cref="FsyncProbe"/>).</summary>
internal static class FsyncCommand
{
    public static void Run(IReadOnlyList<string> args)
    {
        var line = new OptionReader(args);
        var given = line.Text("dir");
        var directory = given ?? Path.Combine(Path.GetTempPath(), "zk-bench-fsync-" + Environment.ProcessId);
        var seconds = line.Int("seconds", 3, 1, 60);
        var blockBytes = line.Int("block-bytes", 4096, 512, 1 << 20);
        line.RejectUnknown();

        Console.WriteLine(MachineInfo.Describe());
        Console.WriteLine($"> directory {Path.GetFullPath(directory)}");
        Console.WriteLine();
        var table = FsyncProbe.NewTable();
        FsyncProbe.Measure(directory, append: true, seconds, blockBytes).AddTo(table);
        FsyncProbe.Measure(directory, append: false, seconds, blockBytes).AddTo(table);
        Console.Write(table);
        if (given is null)
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
