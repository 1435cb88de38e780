using Zk.Embedded.Tests.Support;
using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using Xunit.Abstractions;
using Zk.Embedded.Tests.Storage;

namespace Zk.Embedded.Tests.Packaging;

/// <summary>
/// The packages as a user gets them: <c>dotnet pack</c> into a local feed, a fresh console project outside the
/// repository adds Zk.Embedded from it and runs the README's in-process example, another adds Zk.Testing and runs a
/// scenario under the deterministic simulator twice with one seed (one trace hash), and the zk tool installs and runs.
/// Slow (about a minute: real builds), so it carries the Packaging category; CI runs it with everything else.
/// </summary>
[Trait("Category", "Packaging")]
public sealed partial class PackageTests(ITestOutputHelper output)
{
    private static readonly TimeSpan StepDeadline = TimeSpan.FromMinutes(4);

#if DEBUG
    private const string Configuration = "Debug";
#else
    private const string Configuration = "Release";
#endif

    [GeneratedRegex("```csharp\\n(?<code>.*?)```", RegexOptions.Singleline)]
    private static partial Regex CSharpBlock();

    private static string RepositoryRoot() => Repository.Root;

    [Fact]
    public void The_READMEs_first_example_is_the_in_process_one_this_test_runs()
    {
        var example = CSharpBlock().Match(File.ReadAllText(Path.Combine(RepositoryRoot(), "README.md"))).Groups["code"].Value;
        Assert.Contains("ZkPeer.StartAsync", example, StringComparison.Ordinal);
        Assert.DoesNotContain("ZkClient", example, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_fresh_project_installs_Zk_Embedded_from_a_local_feed_and_runs_the_README_example_the_packaged_simulator_replays_and_the_zk_tool_installs()
    {
        var root = RepositoryRoot();
        // A version no earlier run used, so the global packages folder cannot hand back a stale copy.
        var version = $"0.1.0-test.{DateTime.UtcNow:yyyyMMddHHmmssfff}";
        using var dir = new TempDirectory();
        var feed = Directory.CreateDirectory(dir.File("feed")).FullName;
        try
        {
            // Packs what the test run built (no second build, which cost a minute on a shared machine); PackageVersion
            // changes the package only, so the assemblies this run loaded are not rebuilt.
            foreach (var project in new[] { "Zk.Embedded", "Zk.Server", "Zk.Transport.InMemory", Path.Combine("tests", "Zk.Testing") })
            {
                var name = Path.GetFileName(project);
                await DotnetAsync(root, "pack", Path.Combine(root, project, name + ".csproj"), "--no-build", "-c", Configuration, "-o", feed, $"-p:PackageVersion={version}");
            }

            Assert.True(File.Exists(Path.Combine(feed, $"Zk.Embedded.{version}.snupkg")), "expected a symbols package beside Zk.Embedded's");
            // The packages built on Zk.Embedded's internals need exactly the Zk.Embedded they were built with.
            foreach (var id in new[] { "Zk.Transport.InMemory", "Zk.Testing" })
            {
                using var package = System.IO.Compression.ZipFile.OpenRead(Path.Combine(feed, $"{id}.{version}.nupkg"));
                using var nuspec = new StreamReader(package.GetEntry($"{id}.nuspec")!.Open());
                var pinned = $"<dependency id=\"Zk.Embedded\" version=\"[{version}]\"";
                Assert.True(nuspec.ReadToEnd().Contains(pinned, StringComparison.Ordinal), $"expected {id}'s nuspec to depend on exactly Zk.Embedded {version} ({pinned})");
            }


            var app = Directory.CreateDirectory(dir.File("app")).FullName;
            File.WriteAllText(Path.Combine(app, "app.csproj"), """
                <Project Sdk="Microsoft.NET.Sdk">
                  <PropertyGroup>
                    <OutputType>Exe</OutputType>
                    <TargetFramework>net10.0</TargetFramework>
                    <ImplicitUsings>enable</ImplicitUsings>
                    <Nullable>enable</Nullable>
                  </PropertyGroup>
                </Project>
                """);
            File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
                <configuration><packageSources><add key="local" value="{feed}" /></packageSources></configuration>
                """);
            var readme = File.ReadAllText(Path.Combine(root, "README.md"));
            File.WriteAllText(Path.Combine(app, "Program.cs"), CSharpBlock().Match(readme).Groups["code"].Value);

            await DotnetAsync(app, "add", "package", "Zk.Embedded", "--version", version);
            var run = await DotnetAsync(app, "run");
            Assert.Contains("NodeDataChanged /app", run, StringComparison.Ordinal);
            Assert.Contains("/app/member-0000000000: 1 member(s)", run, StringComparison.Ordinal);

            // Zk.Testing's deterministic simulator from the package: the same seed, the same run.
            var sim = Directory.CreateDirectory(dir.File("sim")).FullName;
            File.Copy(Path.Combine(app, "app.csproj"), Path.Combine(sim, "sim.csproj"));
            File.Copy(Path.Combine(app, "nuget.config"), Path.Combine(sim, "nuget.config"));
            File.WriteAllText(Path.Combine(sim, "Program.cs"), """
                using Zk.Embedded.Api;
                using Zk.Testing.Simulation;

                for (var round = 0; round < 2; round++)
                {
                    var result = DeterministicEnsemble.Run(42, async ensemble =>
                    {
                        while (true)
                        {
                            try
                            {
                                var zk = await ensemble.ConnectAsync(ensemble.Members[ensemble.Random.Next(ensemble.Members.Count)]);
                                await zk.CreateAsync("/sim", "ok"u8.ToArray(), Acl.OpenUnsafe, CreateMode.Persistent);
                                return;
                            }
                            catch (ZkException e) when (e.Code is ZkErrorCode.ConnectionLoss or ZkErrorCode.SessionExpired or ZkErrorCode.NodeExists)
                            {
                                if (e.Code == ZkErrorCode.NodeExists)
                                    return;
                                await ensemble.Delay(TimeSpan.FromMilliseconds(20));
                            }
                        }
                    });
                    Console.WriteLine($"trace {result.TraceHash}");
                }
                """);
            await DotnetAsync(sim, "add", "package", "Zk.Testing", "--version", version);
            var hashes = (await DotnetAsync(sim, "run")).Split('\n').Where(l => l.StartsWith("trace ", StringComparison.Ordinal)).Select(l => l.Trim()).ToList();
            Assert.True(hashes.Count == 2 && hashes[0] == hashes[1], $"expected the packaged simulator to give one trace hash twice for seed 42, got [{string.Join(", ", hashes)}]");

            await DotnetAsync(dir.Path, "tool", "install", "Zk.Server", "--tool-path", dir.File("tools"), "--version", version, "--add-source", feed);
            var help = await RunAsync(dir.Path, dir.File(Path.Combine("tools", "zk")), ["help"]);
            Assert.Contains("Usage:", help, StringComparison.Ordinal);
            Assert.Contains("start <zoo.cfg>", help, StringComparison.Ordinal);
        }
        finally
        {
            foreach (var id in new[] { "zk.embedded", "zk.server", "zk.transport.inmemory", "zk.testing" })
            {
                var cached = Path.Combine(Environment.GetEnvironmentVariable("NUGET_PACKAGES") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages"), id, version);
                if (Directory.Exists(cached))
                {
                    Directory.Delete(cached, recursive: true);
                }
            }
        }
    }

    private Task<string> DotnetAsync(string workingDirectory, params string[] args) => RunAsync(workingDirectory, ZkChildProcess.DotnetHost(), args);

    /// <summary>Runs a command to its end (within the step deadline); fails with its output unless it exits 0.</summary>
    private async Task<string> RunAsync(string workingDirectory, string program, string[] args)
    {
        var info = new ProcessStartInfo(program) { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        // The test host's MSBuild settings would point the child's build at this build's SDK state.
        foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase) || k == "VSTEST_HOST_DEBUG").ToList())
        {
            info.Environment.Remove(key);
        }

        info.Environment["DOTNET_NOLOGO"] = "1";
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        var text = new StringBuilder();
        using var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => { lock (text) { text.AppendLine(e.Data); } };
        process.ErrorDataReceived += (_, e) => { lock (text) { text.AppendLine(e.Data); } };
        var started = Stopwatch.GetTimestamp();
        Assert.True(process.Start(), $"{program} did not start");
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var deadline = new CancellationTokenSource(StepDeadline);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{Path.GetFileName(program)} {string.Join(' ', args)} did not finish within {StepDeadline}:\n{text}");
        }

        process.WaitForExit();
        output.WriteLine($"{Path.GetFileName(program)} {string.Join(' ', args)}: exit {process.ExitCode} after {Stopwatch.GetElapsedTime(started).TotalSeconds:F1} s");
        Assert.True(process.ExitCode == 0, $"{Path.GetFileName(program)} {string.Join(' ', args)} exited {process.ExitCode}:\n{text}");
        return text.ToString();
    }
}
