using System.Net;
using System.Net.Sockets;
using System.Text;
using Zk.Embedded.Api;
using Zk.Embedded.Config;
using Zk.Embedded.Metrics;
using Zk.Embedded.Tests.Storage;

namespace Zk.Embedded.Tests.Metrics;

/// <summary>
/// ZooKeeper's Prometheus endpoint, scraped over real HTTP and parsed strictly. The meter is process-wide and other
/// tests run at the same time, so counters are checked to move by at least what this test did.
/// </summary>
public sealed class PrometheusEndpointTests
{
    [Fact]
    public async Task Metrics_carry_ZooKeepers_names_and_types_and_commit_count_moves_with_writes()
    {
        using var dir = new TempDirectory();
        await using var metrics = PrometheusMetricsServer.Start(new PrometheusMetricsOptions { HttpHost = "127.0.0.1", HttpPort = 0 });
        await using var peer = await ZkPeer.StartAsync(new ZkPeerOptions { DataDir = dir.Path });
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/before", [], Acl.OpenUnsafe, CreateMode.Persistent);

        var before = await PrometheusText.ScrapeAsync(metrics.EndPoint);
        for (var i = 0; i < 5; i++)
        {
            await zk.CreateAsync($"/m{i}", [1], Acl.OpenUnsafe, CreateMode.Persistent);
        }

        var after = await PrometheusText.ScrapeAsync(metrics.EndPoint);
        Assert.True(after.Value("commit_count", "counter", "commit_count") >= before.Value("commit_count", "counter", "commit_count") + 5,
            "expected commit_count to grow by at least the 5 creates");
        Assert.True(after.Value("znode_count", "gauge", "znode_count") >= 7, "expected znode_count to include the root, /zookeeper and this test's 6 znodes");
        Assert.True(after.Value("global_sessions", "gauge", "global_sessions") >= 1, "expected this test's session in global_sessions");
        Assert.True(after.Value("fsynctime", "summary", "fsynctime_count") >= before.Value("fsynctime", "summary", "fsynctime_count") + 1, "expected fsyncs for the writes");
        Assert.False(double.IsNaN(after.Value("fsynctime", "summary", "fsynctime", "quantile=\"0.5\"")), "expected a median fsync time");
        Assert.Equal(3, after.Get("updatelatency", "summary").Samples.Count(s => s.Labels.Contains("quantile", StringComparison.Ordinal)));
        Assert.True(after.Value("zk_requests_total", "counter", "zk_requests_total", "op=\"create\"") >= 6, "expected creates counted by op");
        Assert.Equal("Txns committed and applied", after.Get("commit_count", "counter").Help);
    }

    [Fact]
    public async Task The_NetMQ_transports_drop_counters_are_exported_too()
    {
        await using var metrics = PrometheusMetricsServer.Start(new PrometheusMetricsOptions { HttpHost = "127.0.0.1", HttpPort = 0 });
        var before = await PrometheusText.ScrapeAsync(metrics.EndPoint);
        Zk.Transport.NetMQ.Telemetry.ReceiveDropped.Add(3);

        var after = await PrometheusText.ScrapeAsync(metrics.EndPoint);
        var dropped = after.Value("zk_transport_receive_dropped_total", "counter", "zk_transport_receive_dropped_total");
        var earlier = before.Families.ContainsKey("zk_transport_receive_dropped_total")
            ? before.Value("zk_transport_receive_dropped_total", "counter", "zk_transport_receive_dropped_total")
            : 0;
        Assert.True(dropped >= earlier + 3, $"expected zk_transport_receive_dropped_total to grow by at least 3 (from {earlier}), got {dropped}");
    }

    [Fact]
    public async Task Other_paths_methods_and_garbage_get_HTTP_errors_and_the_endpoint_keeps_serving()
    {
        await using var metrics = PrometheusMetricsServer.Start(new PrometheusMetricsOptions { HttpHost = "127.0.0.1", HttpPort = 0 });
        Assert.StartsWith("HTTP/1.1 404 ", await RawAsync(metrics.EndPoint, "GET /admin HTTP/1.1\r\nHost: x\r\n\r\n"), StringComparison.Ordinal);
        Assert.StartsWith("HTTP/1.1 405 ", await RawAsync(metrics.EndPoint, "TRACE /metrics HTTP/1.1\r\n\r\n"), StringComparison.Ordinal);
        Assert.StartsWith("HTTP/1.1 400 ", await RawAsync(metrics.EndPoint, "hello\r\n\r\n"), StringComparison.Ordinal);
        Assert.StartsWith("HTTP/1.1 400 ", await RawAsync(metrics.EndPoint, new string('a', 8 * 1024)), StringComparison.Ordinal);

        var text = await PrometheusText.ScrapeAsync(metrics.EndPoint);
        Assert.NotEmpty(text.Families);
    }

    [Fact]
    public void Zoo_cfg_metricsProvider_keys_configure_the_endpoint_as_in_ZooKeeper()
    {
        var cfg = ZooCfg.Parse($"metricsProvider.className={PrometheusMetricsOptions.ClassName}\nmetricsProvider.httpPort=7001\nmetricsProvider.httpHost=127.0.0.1\n");
        Assert.Equal(new PrometheusMetricsOptions { HttpHost = "127.0.0.1", HttpPort = 7001 }, cfg.Metrics);
        Assert.Empty(cfg.Unused);
        Assert.Equal(7000, ZooCfg.Parse($"metricsProvider.className={PrometheusMetricsOptions.ClassName}\n").Metrics!.HttpPort);
        Assert.Null(ZooCfg.Parse("metricsProvider.className=org.apache.zookeeper.metrics.impl.DefaultMetricsProvider\n").Metrics);
        Assert.Null(ZooCfg.Parse("tickTime=2000\n").Metrics);
        var unknown = Assert.Throws<FormatException>(() => ZooCfg.Parse("metricsProvider.className=com.example.Mine\n"));
        Assert.Contains("metricsProvider.className", unknown.Message, StringComparison.Ordinal);
        var port = Assert.Throws<FormatException>(() => ZooCfg.Parse($"metricsProvider.className={PrometheusMetricsOptions.ClassName}\nmetricsProvider.httpPort=x\n"));
        Assert.Contains("metricsProvider.httpPort", port.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task zk_start_serves_the_metrics_endpoint_its_zoo_cfg_asks_for()
    {
        using var dir = new TempDirectory();
        var config = dir.File("zoo.cfg");
        File.WriteAllText(config, $"dataDir={dir.Path}\nclientPort=0\nmetricsProvider.className={PrometheusMetricsOptions.ClassName}\nmetricsProvider.httpHost=127.0.0.1\nmetricsProvider.httpPort=0\n");
        using var child = ZkChildProcess.Start(config, dir.Path);
        IPEndPoint? endPoint = null;
        await Support.Eventually.TrueAsync(
            () => child.HasExited || (child.RecentOutput.Contains("Peer running", StringComparison.Ordinal) && (endPoint = FindEndPoint(child.RecentOutput)) is not null),
            "zk to log its metrics endpoint and that its peer runs",
            TimeSpan.FromSeconds(60));
        Assert.True(endPoint is not null, $"zk exited before opening its metrics endpoint:\n{child.RecentOutput}");

        var text = await PrometheusText.ScrapeAsync(endPoint!);
        Assert.True(text.Value("znode_count", "gauge", "znode_count") >= 2, "expected the root and /zookeeper in znode_count");
    }

    private static IPEndPoint? FindEndPoint(string output)
    {
        const string marker = "Prometheus metrics at http://";
        var at = output.IndexOf(marker, StringComparison.Ordinal);
        return at < 0 ? null : IPEndPoint.Parse(output[(at + marker.Length)..].Split("/metrics")[0]);
    }

    private static async Task<string> RawAsync(IPEndPoint endPoint, string request)
    {
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(endPoint);
        await socket.SendAsync(Encoding.ASCII.GetBytes(request));
        var answer = new MemoryStream();
        var buffer = new byte[4096];
        int read;
        while ((read = await socket.ReceiveAsync(buffer)) > 0)
        {
            answer.Write(buffer, 0, read);
        }

        return Encoding.ASCII.GetString(answer.ToArray());
    }
}
