using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;

namespace Zk.Embedded.Tests.Architecture;

/// <summary>
/// Dependencies point inward (DESIGN.md, Layout): Api and Tree know nothing of the pipeline, sessions, watches,
/// storage, consensus, wire or transports. This reads each folder's using lines and namespace references, as
/// tigerbeetle's tidy does, so the rule holds without anyone remembering it.
/// </summary>
public sealed partial class DependencyDirectionTests
{
    private static readonly string[] Outer = ["Txns", "Processing", "Sessions", "Watches", "Storage", "Consensus", "Wire", "Transport", "Recipes", "Config"];

    [Theory]
    [InlineData("Api", new[] { "Api" })]
    [InlineData("Tree", new[] { "Api", "Tree" })]
    [InlineData("Transport", new[] { "Api", "Transport" })]   // the contract a transport assembly implements knows no core internals
    [InlineData("Txns", new[] { "Api", "Tree", "Txns" })]
    public void Inner_folders_reference_no_outer_folder(string folder, string[] allowed)
    {
        var dir = Path.Combine(RepoRoot(), "Zk.Embedded", folder);
        Assert.True(Directory.Exists(dir), $"expected folder {dir}");
        var offenders = new List<string>();
        foreach (var file in Directory.EnumerateFiles(dir, "*.cs", SearchOption.AllDirectories))
        {
            foreach (Match match in ProjectNamespace().Matches(File.ReadAllText(file)))
            {
                var used = match.Groups[1].Value;
                if (Array.IndexOf(Outer, used) >= 0 && Array.IndexOf(allowed, used) < 0)
                {
                    offenders.Add($"{Path.GetFileName(file)} uses Zk.Embedded.{used}");
                }
            }
        }

        Assert.True(offenders.Count == 0, $"{folder} must not depend on outer folders: {string.Join("; ", offenders)}");
    }

    [Fact]
    public void The_core_library_never_names_a_transport_implementation()
    {
        var dir = Path.Combine(RepoRoot(), "Zk.Embedded");
        var offenders = Directory.EnumerateFiles(dir, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Where(f => Regex.IsMatch(File.ReadAllText(f), @"\bNetMQ\b|Transport\.InMemory"))
            .Select(Path.GetFileName)
            .ToList();
        Assert.True(offenders.Count == 0, $"Zk.Embedded must not name NetMQ or the in-memory network: {string.Join(", ", offenders)}");
    }

    private static string RepoRoot([CallerFilePath] string here = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(here)!, "..", "..", ".."));

    [GeneratedRegex(@"Zk\.Embedded\.([A-Za-z]+)")]
    private static partial Regex ProjectNamespace();
}
