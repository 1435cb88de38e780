using System.CommandLine;
using Zk.Bench.Disk;
using Zk.Bench.Ensemble;
using Zk.Bench.EnsembleWire;
using Zk.Bench.Load;
using Zk.Bench.Lock;
using Zk.Bench.Memory;
using Zk.Bench.Micro;
using Zk.Bench.Recovery;
using Zk.Bench.Transport;
using Zk.Bench.Wire;

namespace Zk.Bench;

/// <summary>Entry point: one subcommand per kind of measurement (see docs/performance.md); <c>--help</c> lists them.</summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        var root = new RootCommand("Zk.Embedded's benchmarks, each next to its baseline in the same run (docs/performance.md).")
        {
            MicroCommand.Define(),
            LoadCommand.Define(),
            FsyncCommand.Define(),
            LogCommand.Define(),
            WireCommand.Define(),
            MemoryCommand.Define(),
            RecoveryCommand.Define(),
            LockCommand.Define(),
            EnsembleCommand.Define(),
            EnsembleWireCommand.Define(),
            TransportCommand.Define(),
        };
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var error in parsed.Errors)
                await Console.Error.WriteLineAsync($"Zk.Bench: {error.Message}").ConfigureAwait(false);
            await Console.Error.WriteLineAsync("Run 'Zk.Bench --help' (or 'Zk.Bench <command> --help') for usage.").ConfigureAwait(false);
            return 2;
        }

        return await parsed.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false }).ConfigureAwait(false);
    }
}
