using Zk.Embedded.Tests.Support;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Zk.Testing.Simulation;

namespace Zk.Embedded.Tests.Consensus;

/// <summary>
/// DESIGN invariant 6: the core imports Api only and does no I/O, reads no clock, starts no thread and makes no
/// randomness of its own; so one seed replays one run exactly.
/// </summary>
public sealed partial class CorePurityTests
{
    [Fact]
    public void The_consensus_core_uses_only_Api_and_no_clock_thread_io_or_random_of_its_own()
    {
        var dir = Path.Combine(RepoRoot(), "Zk.Embedded", "Consensus");
        var offenders = new List<string>();
        foreach (var file in Directory.EnumerateFiles(dir, "*.cs"))
        {
            var text = File.ReadAllText(file);
            foreach (Match match in Forbidden().Matches(text))
                offenders.Add($"{Path.GetFileName(file)}: {match.Value}");
            foreach (Match match in ProjectNamespace().Matches(text))
            {
                if (match.Groups[1].Value is not ("Api" or "Consensus"))
                    offenders.Add($"{Path.GetFileName(file)}: {match.Value}");
            }
        }
        Assert.True(offenders.Count == 0, $"the consensus core must stay pure: {string.Join("; ", offenders)}");
    }

    [Fact]
    public void The_same_seed_replays_the_same_run()
    {
        var options = new SimOptions { Seed = 7, Voters = 3, Observers = 1 };
        Assert.Equal(Digest(options), Digest(options));
        Assert.NotEqual(Digest(options), Digest(options with { Seed = 8 }));
    }

    private static string Digest(SimOptions options)
    {
        var sim = new Simulation(options);
        sim.Run();
        var text = new StringBuilder($"{sim.Delivered}/{sim.Crashes}/");
        foreach (var txn in sim.Checker.History)
            text.Append(txn.Zxid).Append(',');
        text.Append(sim.Trace);
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }

    private static string RepoRoot() => Repository.Root;

    // Randomness comes only through IConsensusRandom (ctx.Random); a System.Random of its own is forbidden.
    [GeneratedRegex(@"\bnew Random\b|\bRandom\.Shared\b|\b(DateTime|DateTimeOffset|Stopwatch|TimeProvider|Thread|Task|Timer|File|Directory|Socket|Environment)\b\.?\w*")]
    private static partial Regex Forbidden();

    [GeneratedRegex(@"Zk\.Embedded\.([A-Za-z]+)")]
    private static partial Regex ProjectNamespace();
}
