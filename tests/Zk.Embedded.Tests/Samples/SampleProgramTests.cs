using System.Diagnostics;
using System.Reflection;
using System.Text;
using Zk.Embedded.Tests.Storage;
using Zk.Embedded.Tests.Support;

namespace Zk.Embedded.Tests.Samples;

/// <summary>
/// The samples the README links, run as <c>dotnet run --project samples/&lt;name&gt;</c> runs them (a process of their
/// own, to completion): each exits 0 and prints the steps that show its point.
/// </summary>
[Collection(RunsAlone.Name)]
public sealed class SampleProgramTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task ConfigManagement_workers_in_other_processes_apply_every_version_and_a_killed_one_leaves()
    {
        var output = await RunAsync("ConfigManagement");
        foreach (var version in new[] { 0, 1, 2 })
            Assert.Contains($"admin: worker-1, worker-2 run version {version}", output, StringComparison.Ordinal);
        Assert.Contains("worker-2: applies timeout=20s (version 2)", output, StringComparison.Ordinal);
        Assert.Contains("admin: worker-2 run version 2", output, StringComparison.Ordinal);
        Assert.Contains("admin: done (worker-2 exited with 0)", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ServiceDiscovery_spreads_requests_evenly_and_follows_instances_leaving_and_joining()
    {
        var output = await RunAsync("ServiceDiscovery");
        Assert.Contains("30 requests over 3 instances: instance-1 10, instance-2 10, instance-3 10", output, StringComparison.Ordinal);
        Assert.Contains("30 requests over 2 instances: instance-1 15, instance-3 15", output, StringComparison.Ordinal);
        Assert.Contains("30 requests over 3 instances: instance-1 10, instance-3 10, instance-4 10", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LockWalkthrough_hands_the_lock_from_A_to_B_in_the_order_of_the_classic_diagram()
    {
        var output = await RunAsync("LockWalkthrough");
        var steps = new[] { "1. client A asks", "2. client B asks", "3. client A works", "4. B's watch fires", "   B holds with" }.Select(s => output.IndexOf(s, StringComparison.Ordinal)).ToArray();
        Assert.True(steps.All(i => i >= 0) && steps.SequenceEqual(steps.Order()), $"expected the four steps in order:\n{output}");
    }

    [Fact]
    public async Task Failover_hands_over_to_the_standby_and_fences_the_old_active_worker()
    {
        var output = await RunAsync("Failover");
        Assert.Contains("worker-B takes over and writes: accepted", output, StringComparison.Ordinal);
        Assert.Contains("a late write of worker-A (paused, not dead): refused", output, StringComparison.Ordinal);
    }

    private static async Task<string> RunAsync(string sample)
    {
        var dll = typeof(SampleProgramTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .First(a => a.Key == $"Sample:{sample}").Value!;
        Assert.True(File.Exists(dll), $"{dll} is missing: build the solution first (dotnet build Embedded.sln)");
        var info = new ProcessStartInfo(ZkChildProcess.DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(dll);
        var output = new StringBuilder();
        using var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        Assert.True(process.Start(), $"{sample} did not start");
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var deadline = new CancellationTokenSource(Deadline);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{sample} did not exit within {Deadline}:\n{output}");
        }

        process.WaitForExit(); // drains the redirected output
        var text = output.ToString();
        Assert.True(process.ExitCode == 0, $"{sample} exited with {process.ExitCode}:\n{text}");
        return text;
    }
}
