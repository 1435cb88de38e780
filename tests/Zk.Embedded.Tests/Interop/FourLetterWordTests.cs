using System.Globalization;
using Zk.Embedded.Api;
using Zk.Embedded.Tests.Wire;
using Zk.Embedded.Wire.Client;
using Zk.Embedded.Wire.Jute;

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

    [Fact]
    public async Task Srvr_cons_and_mntr_count_what_was_served_and_srst_and_crst_reset_it()
    {
        await using var peer = await StartAsync();
        var endPoint = peer.ClientEndPoint!;
        await using var client = await ZkClient.ConnectAsync($"{endPoint.Address}:{endPoint.Port}");
        await client.CreateAsync("/stats", [1], Acl.OpenUnsafe, CreateMode.Persistent);
        for (var i = 0; i < 10; i++)
        {
            await client.SetDataAsync("/stats", [(byte)i]);
            await client.GetDataAsync("/stats");
        }

        // connect + create + 20 requests, each answered.
        var srvr = Fields(await InteropTools.FourLetterWordAsync(endPoint, "srvr", Deadline), ": ");
        Assert.True(long.Parse(srvr["Received"], CultureInfo.InvariantCulture) >= 22, $"expected at least 22 packets received: {srvr["Received"]}");
        Assert.True(long.Parse(srvr["Sent"], CultureInfo.InvariantCulture) >= 22, $"expected at least 22 packets sent: {srvr["Sent"]}");
        Assert.Equal("0", srvr["Outstanding"]);
        var latency = srvr["Latency min/avg/max"].Split('/').Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray();
        // min and max are whole milliseconds, rounded down, as ZooKeeper prints them; the average keeps its fraction.
        Assert.True(latency[0] <= latency[1] && latency[1] < latency[2] + 1 && latency[1] > 0, $"expected min <= avg < max + 1 ms and avg > 0: {srvr["Latency min/avg/max"]}");
        var mntr = Fields(await InteropTools.FourLetterWordAsync(endPoint, "mntr", Deadline), "\t");
        Assert.True(double.Parse(mntr["zk_avg_latency"], CultureInfo.InvariantCulture) > 0, $"expected a measured average latency: {mntr["zk_avg_latency"]}");
        var cons = await InteropTools.FourLetterWordAsync(endPoint, "cons", Deadline);
        Assert.Matches(@"\(queued=0,recved=(2[2-9]|[3-9]\d|\d{3,}),sent=", cons);

        Assert.Equal("Server stats reset.", (await InteropTools.FourLetterWordAsync(endPoint, "srst", Deadline)).Trim());
        srvr = Fields(await InteropTools.FourLetterWordAsync(endPoint, "srvr", Deadline), ": ");
        Assert.Equal(("0", "0", "0/0/0"), (srvr["Received"], srvr["Sent"], srvr["Latency min/avg/max"]));
        Assert.Equal("Connection stats reset.", (await InteropTools.FourLetterWordAsync(endPoint, "crst", Deadline)).Trim());
        // The four-letter-word connection lists itself too, with nothing counted: no line may count anything now.
        cons = await InteropTools.FourLetterWordAsync(endPoint, "cons", Deadline);
        Assert.DoesNotMatch(@"(recved|sent)=[1-9]", cons);
    }

    [Fact]
    public async Task A_read_that_ends_in_a_bad_frame_still_counts_what_it_received()
    {
        await using var peer = await StartAsync();
        var endPoint = peer.ClientEndPoint!;
        var (client, _) = await RawWireClient.ConnectAsync(endPoint);
        using (client)
        {
            // The connect is counted once its read is handled, just after its response went out: wait for that count,
            // or it could land after the reset below.
            var until = DateTime.UtcNow + Deadline;
            while (Fields(await InteropTools.FourLetterWordAsync(endPoint, "srvr", Deadline), ": ")["Received"] == "0")
            {
                Assert.True(DateTime.UtcNow < until, "expected the connect request counted as received");
                await Task.Yield();
            }

            Assert.Equal("Server stats reset.", (await InteropTools.FourLetterWordAsync(endPoint, "srst", Deadline)).Trim());

            // One send, so one read on the server: a well-formed exists, then a frame too short for a request header,
            // which closes the connection (as in ZooKeeper, a bad packet still counts as received).
            var exists = RawWireClient.Frame([.. Jute.ToArray(new RequestHeader(1, OpCode.Exists)), .. Jute.ToArray(new ExistsRequest("/", false))]);
            client.SendRaw([.. exists, .. RawWireClient.Frame([0x00, 0x01])]);
            while (client.ReceiveFrame() is not null)
            {
                // Whatever was answered before the close; the close is what the test waits for.
            }
        }

        var srvr = Fields(await InteropTools.FourLetterWordAsync(endPoint, "srvr", Deadline), ": ");
        Assert.True(srvr["Received"] == "2", $"expected the exists and the bad frame counted as received, got Received: {srvr["Received"]}");
    }

    private static Dictionary<string, string> Fields(string text, string separator) => text
        .Split('\n', StringSplitOptions.RemoveEmptyEntries)
        .Select(l => l.Split(separator, 2))
        .Where(p => p.Length == 2)
        .ToDictionary(p => p[0].Trim(), p => p[1].Trim());

    private static async Task<ZkPeer> StartAsync() =>
        await ZkPeer.StartAsync(new ZkPeerOptions { ClientPort = 0, FourLetterWordWhitelist = "*" });
}
