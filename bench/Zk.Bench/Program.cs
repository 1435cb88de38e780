using Zk.Bench.Disk;
using Zk.Bench.Load;
using Zk.Bench.Memory;
using Zk.Bench.Micro;
using Zk.Bench.Recovery;
using Zk.Bench.Wire;

namespace Zk.Bench;

/// <summary>Entry point: one subcommand per kind of measurement (see docs/performance.md).</summary>
public static class Program
{
    private const string Usage = """
        usage: Zk.Bench micro [BenchmarkDotNet args]      micro benchmarks of the session API and the tree
               Zk.Bench load [--sessions N] [--seconds S] [--workload get|set|mix90] [--value-bytes B] [--inflight K]
                             [--warmup-seconds W] [--runs R] [--max-ops M]
                             [--durable true|false] [--data-dir DIR] [--force-sync true|false] [--fsync-seconds F]
               Zk.Bench fsync [--dir DIR] [--seconds S] [--block-bytes B]   raw write+fsync latency of a disk
               Zk.Bench log [--data-dir DIR] [--seconds S] [--batches 1,8,40,64,256] [--value-bytes B]
                             the txn log alone (one writer thread, no sync and a sync per batch) next to raw fdatasync
               Zk.Bench wire --target HOST:PORT [--server-pid PID] [--connections N] [--inflight K]
                             [--workload get|set|mix90] [--seconds S] [--warmup-seconds W] [--value-bytes B]
               Zk.Bench wire --compare true [--zk-dll PATH] [--shapes 1x1,8x64] [--workloads get,set,mix90]
                             [--repeats R] [--seconds S] [--warmup-seconds W] [--chart FILE.svg]
                             our zk vs Apache ZooKeeper, interleaved; --chart also writes throughput and latency as SVG
               Zk.Bench memory [--nodes N] [--value-bytes B]
               Zk.Bench recovery [--nodes N] [--value-bytes B] [--parents P] [--zk-dll PATH] [--apache true|false]
                             [--reuse-dir DIR]
                             restart time with N znodes on disk: ours (in-process and zk program) vs Apache ZooKeeper;
                             --reuse-dir keeps our dataDir in DIR, and a later run on it restarts without filling again
        """;

    public static async Task<int> Main(string[] args)
    {
        if (args.Length == 0)
        {
            Console.Error.WriteLine(Usage);
            return 2;
        }

        var rest = args[1..];
        try
        {
            switch (args[0])
            {
                case "micro":
                    MicroCommand.Run(rest);
                    return 0;
                case "load":
                    await LoadCommand.RunAsync(rest).ConfigureAwait(false);
                    return 0;
                case "fsync":
                    FsyncCommand.Run(rest);
                    return 0;
                case "log":
                    LogCommand.Run(rest);
                    return 0;
                case "wire":
                    await WireCommand.RunAsync(rest).ConfigureAwait(false);
                    return 0;
                case "memory":
                    await MemoryCommand.RunAsync(rest).ConfigureAwait(false);
                    return 0;
                case "recovery":
                    await RecoveryCommand.RunAsync(rest).ConfigureAwait(false);
                    return 0;
                default:
                    Console.Error.WriteLine(Usage);
                    return 2;
            }
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine(e.Message);
            Console.Error.WriteLine(Usage);
            return 2;
        }
    }
}
