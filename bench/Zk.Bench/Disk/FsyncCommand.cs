using System.CommandLine;
using Zk.Bench.Reporting;

namespace Zk.Bench.Disk;

/// <summary><c>fsync</c>: the raw sync latency of a directory's disk, both ways (see <see cref="FsyncProbe"/>).</summary>
internal static class FsyncCommand
{
    public static Command Define()
    {
        var dir = BenchOption.Text("--dir", "the directory whose disk to measure (default: a temp dir, deleted afterwards)");
        var seconds = BenchOption.Int("--seconds", 3, 1, 60, "length of each measurement");
        var blockBytes = BenchOption.Int("--block-bytes", 4096, 512, 1 << 20, "bytes written before each sync");
        var command = new Command("fsync", "raw write+fsync latency of a disk, appending and overwriting") { dir, seconds, blockBytes };
        command.SetAction(r => Run(r.GetValue(dir), r.GetValue(seconds), r.GetValue(blockBytes)));
        return command;
    }

    private static void Run(string? given, int seconds, int blockBytes)
    {
        var directory = given ?? Path.Combine(Path.GetTempPath(), "zk-bench-fsync-" + Environment.ProcessId);

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
