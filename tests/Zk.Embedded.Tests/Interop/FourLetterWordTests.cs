using System.Globalization;

namespace Zk.Embedded.Tests.Interop;

/// <summary>The four-letter words as monitoring tools and clients read them (kazoo, zkServer.sh status, exporters).</summary>
public sealed class FourLetterWordTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The mntr keys that monitoring tools read (the Datadog and Prometheus ZooKeeper checks). ZooKeeper reports the
    /// file descriptor counts only on Unix, where the JVM can count them; we do on Linux.
    /// </summary>
    private static readonly string[] MonitoredKeys =
    [
        "zk_version", "zk_avg_latency", "zk_max_latency", "zk_min_latency", "zk_packets_received", "zk_packets_sent",
        "zk_num_alive_connections", "zk_outstanding_requests", "zk_server_state", "zk_znode_count", "zk_watch_count",
        "zk_ephemerals_count", "zk_approximate_data_size",
        .. OperatingSystem.IsLinux() ? ["zk_open_file_descriptor_count", "zk_max_file_descriptor_count"] : Array.Empty<string>(),
    ];

    [Fact]
    public async Task Ruok_answers_imok()
    {
        await using var peer = await StartAsync();
        Assert.Equal("imok", await InteropTools.FourLetterWordAsync(peer.ClientEndPoint!, "ruok", Deadline));
    }

    [Fact]
    public async Task Srvr_reports_standalone_mode_the_zxid_and_the_node_count()
    {
        await using var peer = await StartAsync();
        var srvr = await InteropTools.FourLetterWordAsync(peer.ClientEndPoint!, "srvr", Deadline);
        var lines = srvr.Split('\n');
        Assert.Contains("Mode: standalone", lines);
        Assert.Contains($"Zxid: 0x{peer.LastZxid:x}", lines);
        Assert.True(lines[0].StartsWith("Zookeeper version: 3.8.", StringComparison.Ordinal), $"expected a first line 'Zookeeper version: 3.8.x...', got:\n{srvr}");
        Assert.Contains(lines, l => l.StartsWith("Node count: ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Envi_reports_a_3_8_zookeeper_version_that_kazoo_parses()
    {
        await using var peer = await StartAsync();
        var envi = await InteropTools.FourLetterWordAsync(peer.ClientEndPoint!, "envi", Deadline);
        var version = envi.Split('\n').SingleOrDefault(l => l.StartsWith("zookeeper.version=", StringComparison.Ordinal));
        Assert.True(version is not null, $"expected a zookeeper.version= line in envi:\n{envi}");
        // kazoo's server_version(): the part after '=', up to the first '-' or ',', split on '.' into ints.
        var numbers = version["zookeeper.version=".Length..].Split(['-', ','])[0].Split('.');
        Assert.True(
            numbers.Length == 3 && numbers.All(n => int.TryParse(n, CultureInfo.InvariantCulture, out _)) && numbers[0] == "3" && numbers[1] == "8",
            $"expected zookeeper.version=3.8.x, got '{version}'");
    }

    [Fact]
    public async Task Mntr_has_every_key_monitoring_tools_read_with_a_numeric_value()
    {
        await using var peer = await StartAsync();
        await using var session = await peer.ConnectAsync();
        var mntr = await InteropTools.FourLetterWordAsync(peer.ClientEndPoint!, "mntr", Deadline);
        var values = mntr.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split('\t'))
            .ToDictionary(p => p[0], p => p.Length > 1 ? p[1] : "");
        var missing = MonitoredKeys.Where(k => !values.ContainsKey(k)).ToArray();
        Assert.True(missing.Length == 0, $"expected mntr to report {string.Join(", ", missing)}; it printed:\n{mntr}");
        Assert.Equal("standalone", values["zk_server_state"]);
        var notNumbers = MonitoredKeys
            .Where(k => k is not "zk_version" and not "zk_server_state")
            .Where(k => !double.TryParse(values[k], NumberStyles.Float, CultureInfo.InvariantCulture, out _))
            .ToArray();
        Assert.True(notNumbers.Length == 0, $"expected numbers for {string.Join(", ", notNumbers)}; mntr printed:\n{mntr}");
    }

    private static async Task<ZkPeer> StartAsync() =>
        await ZkPeer.StartAsync(new ZkPeerOptions { ClientPort = 0, FourLetterWordWhitelist = "*" });
}
