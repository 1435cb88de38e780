using Zk.Embedded.Tests.Support;
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
    /// <summary>
    /// Each folder of Zk.Embedded and the folders it may use (itself always). Lower layers first: a folder uses only
    /// folders above it in this table, so no two import each other. docs/architecture.md's folder table says the same.
    /// </summary>
    private static readonly Dictionary<string, string[]> Allowed = new()
    {
        ["Api"] = [],
        ["Tree"] = ["Api"],
        ["Txns"] = ["Api", "Tree"],
        ["Sessions"] = ["Api", "Tree", "Txns"],
        ["Watches"] = ["Api", "Tree", "Txns", "Sessions"],
        ["Processing"] = ["Api", "Tree", "Txns", "Sessions", "Watches"],
        ["InProcess"] = ["Api", "Tree", "Txns", "Sessions", "Watches", "Processing"],
        ["Storage"] = ["Api", "Tree", "Txns"],
        ["Consensus"] = ["Api"],
        ["Transport"] = ["Api"],   // the contract a transport assembly implements knows no core internals
        ["Wire"] = ["Api", "Tree", "Txns", "Sessions", "Watches", "Processing", "InProcess"],
        ["Recipes"] = ["Api"],     // recipes work on any IZooKeeper, in process or over the wire
        ["Metrics"] = ["Api"],     // and the root's Telemetry
        ["Config"] = ["Api", "Metrics"],
        ["Ensemble"] = ["Api", "Tree", "Txns", "Sessions", "Watches", "Processing", "InProcess", "Storage", "Consensus", "Transport", "Wire", "Config", "Metrics"],
    };

    /// <summary>The root files (ZkPeer, PeerCore, options, Telemetry) compose every layer but the recipes on top.</summary>
    private const string Root = "";

    public static TheoryData<string> Folders()
    {
        var data = new TheoryData<string>(Root);
        foreach (var folder in Allowed.Keys.Where(f => Directory.Exists(Path.Combine(LibraryDir(), f))))
        {
            data.Add(folder);
        }

        return data;
    }

    [Fact]
    public void Every_folder_of_the_library_has_a_place_in_the_dependency_table()
    {
        var unplaced = Directory.EnumerateDirectories(LibraryDir())
            .Select(Path.GetFileName)
            .Where(name => name is not ("bin" or "obj") && !Allowed.ContainsKey(name!))
            .ToList();
        Assert.True(unplaced.Count == 0, $"expected every folder in DependencyDirectionTests.Allowed, missing: {string.Join(", ", unplaced)}");
    }

    [Theory]
    [MemberData(nameof(Folders))]
    public void A_folder_uses_only_the_folders_below_it(string folder)
    {
        var allowed = folder == Root ? Allowed.Keys.Where(f => f != "Recipes").ToArray() : [folder, .. Allowed[folder]];
        var files = folder == Root
            ? Directory.EnumerateFiles(LibraryDir(), "*.cs", SearchOption.TopDirectoryOnly)
            : Directory.EnumerateFiles(Path.Combine(LibraryDir(), folder), "*.cs", SearchOption.AllDirectories);
        var offenders = new List<string>();
        foreach (var file in files)
        {
            foreach (Match match in ProjectNamespace().Matches(File.ReadAllText(file)))
            {
                var used = match.Groups[1].Value;
                if (Allowed.ContainsKey(used) && Array.IndexOf(allowed, used) < 0)
                {
                    offenders.Add($"{Path.GetFileName(file)} uses Zk.Embedded.{used}");
                }
            }
        }

        Assert.True(offenders.Count == 0, $"'{folder}' may use only {string.Join(", ", allowed)}: {string.Join("; ", offenders)}");
    }

    [Fact]
    public void The_core_library_never_names_a_transport_implementation()
    {
        var dir = LibraryDir();
        var offenders = Directory.EnumerateFiles(dir, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Where(f => Regex.IsMatch(File.ReadAllText(f), @"\bNetMQ\b|Transport\.InMemory"))
            .Select(Path.GetFileName)
            .ToList();
        Assert.True(offenders.Count == 0, $"Zk.Embedded must not name NetMQ or the in-memory network: {string.Join(", ", offenders)}");
    }

    private static string LibraryDir() => Path.Combine(RepoRoot(), "Zk.Embedded");

    private static string RepoRoot() => Repository.Root;

    [GeneratedRegex(@"Zk\.Embedded\.([A-Za-z]+)")]
    private static partial Regex ProjectNamespace();
}
