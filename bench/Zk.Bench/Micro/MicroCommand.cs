using System.CommandLine;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;

namespace Zk.Bench.Micro;

/// <summary>Runs the BenchmarkDotNet suite; arguments pass through (--filter, --job, --inProcess, ...).</summary>
internal static class MicroCommand
{
    public static Command Define()
    {
        var command = new Command("micro", "micro benchmarks of the session API and the tree (BenchmarkDotNet arguments pass through)")
        {
            TreatUnmatchedTokensAsErrors = false,
        };
        command.SetAction(r => Run([.. r.UnmatchedTokens]));
        return command;
    }

    private static void Run(string[] args)
    {
        var config = DefaultConfig.Instance;
        if (Array.IndexOf(args, "--job") < 0 && Array.IndexOf(args, "-j") < 0)
        {
            // ShortRun (1 launch, 3 warmups, 3 iterations) keeps the whole suite to a few minutes on 2 cores;
            // pass --job to get BenchmarkDotNet's default, tighter intervals.
            config = config.AddJob(Job.ShortRun);
        }

        if (Array.IndexOf(args, "--filter") < 0 && Array.IndexOf(args, "-f") < 0)
        {
            // Without a filter BenchmarkSwitcher asks on the console which benchmarks to run; a bare `micro` runs them all.
            args = [.. args, "--filter", "*"];
        }

        BenchmarkSwitcher.FromAssembly(typeof(MicroCommand).Assembly).Run(args, config);
    }
}
