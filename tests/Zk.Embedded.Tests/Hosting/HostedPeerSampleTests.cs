using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Reflection;
using Zk.Embedded.Tests.Metrics;
using Zk.Embedded.Tests.Storage;

namespace Zk.Embedded.Tests.Hosting;

/// <summary>
/// samples/HostedPeer as a real process (what <c>dotnet run --project samples/HostedPeer</c> runs): its peer serves,
/// its health check reports Healthy, its Prometheus endpoint is scraped, and SIGTERM stops it cleanly.
/// </summary>
public sealed class HostedPeerSampleTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    private static string SampleDll
    {
        get
        {
            var dll = typeof(HostedPeerSampleTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().First(a => a.Key == "HostedPeerDll").Value!;
            Assert.True(File.Exists(dll), $"{dll} is missing: build the solution first (dotnet build Embedded.sln)");
            return dll;
        }
    }

    [Fact]
    public async Task The_HostedPeer_sample_serves_health_and_Prometheus_metrics_and_stops_on_SIGTERM()
    {
        using var dir = new TempDirectory();
        var info = new ProcessStartInfo(ZkChildProcess.DotnetHost())
        {
            WorkingDirectory = dir.Path,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { SampleDll, "--ZooKeeper:Peer:ClientPort=0", "--ZooKeeper:Prometheus:HttpPort=0", $"--ZooKeeper:Peer:DataDir={dir.File("data")}" })
        {
            info.ArgumentList.Add(arg);
        }

        var output = new ConcurrentQueue<string>();
        using var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => output.Enqueue(e.Data ?? "");
        process.ErrorDataReceived += (_, e) => output.Enqueue(e.Data ?? "");
        Assert.True(process.Start(), "the sample did not start");
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            var text = () => string.Join('\n', output);
            await Support.Eventually.TrueAsync(
                () => process.HasExited || (text().Contains("Health zookeeper-peer: Healthy", StringComparison.Ordinal) && text().Contains("Heartbeat 1 written", StringComparison.Ordinal)),
                "the sample to log a Healthy peer and its first heartbeat",
                Deadline);
            Assert.False(process.HasExited, $"the sample exited with {(process.HasExited ? process.ExitCode : 0)}:\n{text()}");

            var metrics = await PrometheusText.ScrapeAsync(MetricsEndPoint(text()));
            Assert.True(metrics.Value("commit_count", "counter", "commit_count") >= 3, "expected the sample's session, /hosted-peer, its member and a heartbeat committed");
            Assert.True(metrics.Value("znode_count", "gauge", "znode_count") >= 6, "expected the root, /zookeeper's nodes, /hosted-peer and its member");
            Assert.Equal(1, metrics.Value("global_sessions", "gauge", "global_sessions"));

            Assert.Equal(0, Kill("TERM", process.Id));
            Assert.True(process.WaitForExit(Deadline), $"the sample did not stop on SIGTERM:\n{text()}");
            process.WaitForExit();
            Assert.True(process.ExitCode == 0, $"expected exit code 0 after SIGTERM, got {process.ExitCode}:\n{text()}");
            Assert.Contains("ZooKeeper peer stopped", text(), StringComparison.Ordinal);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
    }

    private static IPEndPoint MetricsEndPoint(string output)
    {
        const string marker = "Prometheus metrics at http://";
        var at = output.IndexOf(marker, StringComparison.Ordinal);
        Assert.True(at >= 0, $"the sample did not log its metrics endpoint:\n{output}");
        return IPEndPoint.Parse(output[(at + marker.Length)..].Split("/metrics")[0]);
    }

    private static int Kill(string signal, int pid)
    {
        using var kill = Process.Start("kill", ["-" + signal, pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
        return kill.ExitCode;
    }
}
