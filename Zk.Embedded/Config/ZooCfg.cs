using System.Globalization;
using Zk.Embedded.Metrics;

namespace Zk.Embedded.Config;

/// <summary>
/// Reads a zoo.cfg (Java properties: key=value, # and ! comments) into <see cref="ZkPeerOptions"/>. Keys this peer
/// does not use yet are kept in <see cref="Unused"/> so a caller can say so, rather than failing.
/// </summary>
public sealed class ZooCfg
{
    private ZooCfg(ZkPeerOptions options, PrometheusMetricsOptions? metrics, IReadOnlyDictionary<string, string> all, IReadOnlyList<string> unused)
    {
        Options = options;
        Metrics = metrics;
        All = all;
        Unused = unused;
    }

    public ZkPeerOptions Options { get; }

    /// <summary>
    /// The Prometheus endpoint when <c>metricsProvider.className</c> names ZooKeeper's PrometheusMetricsProvider; null
    /// for none (ZooKeeper's default provider, which exports nothing). The endpoint serves the process, not one peer,
    /// so the host starts it (<see cref="PrometheusMetricsServer"/>).
    /// </summary>
    public PrometheusMetricsOptions? Metrics { get; }

    /// <summary>Every key and value in the file.</summary>
    public IReadOnlyDictionary<string, string> All { get; }

    /// <summary>Keys present in the file that this peer does not act on.</summary>
    public IReadOnlyList<string> Unused { get; }

    public static ZooCfg Load(string path) => Parse(File.ReadAllText(path), path);

    /// <summary>Parses zoo.cfg text; <paramref name="source"/> names it in errors.</summary>
    /// <exception cref="FormatException">a value is malformed; the message names the key.</exception>
    public static ZooCfg Parse(string text, string source = "zoo.cfg")
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line[0] is '#' or '!')
            {
                continue;
            }

            var eq = line.IndexOf('=');
            if (eq <= 0)
            {
                throw new FormatException($"{source}: line '{line}' is not key=value.");
            }

            values[line[..eq].Trim()] = line[(eq + 1)..].Trim();
        }

        var options = new ZkPeerOptions();
        var unused = new List<string>();
        foreach (var (key, value) in values)
        {
            options = key switch
            {
                "tickTime" => options with { TickTime = TimeSpan.FromMilliseconds(Int(key, value, source)) },
                "dataDir" => options with { DataDir = value },
                "dataLogDir" => options with { DataLogDir = value },
                "forceSync" => options with { ForceSync = Bool(key, value, source) },
                "snapCount" => options with { SnapCount = Int(key, value, source) },
                "autopurge.snapRetainCount" => options with { SnapRetainCount = Int(key, value, source) },
                "autopurge.purgeInterval" => options with { PurgeInterval = TimeSpan.FromHours(Int(key, value, source)) },
                "minSessionTimeout" => options with { MinSessionTimeout = TimeSpan.FromMilliseconds(Int(key, value, source)) },
                "maxSessionTimeout" => options with { MaxSessionTimeout = TimeSpan.FromMilliseconds(Int(key, value, source)) },
                "jute.maxbuffer" => options with { MaxDataBytes = Int(key, value, source) },
                "clientPort" => options with { ClientPort = Int(key, value, source) },
                "clientPortAddress" => options with { ClientPortAddress = value },
                "maxClientCnxns" => options with { MaxClientConnections = Int(key, value, source) },
                "globalOutstandingLimit" or "zookeeper.globalOutstandingLimit" => options with { GlobalOutstandingLimit = Int(key, value, source) },
                "nio.sessionlessCnxnTimeout" or "zookeeper.nio.sessionlessCnxnTimeout" => options with { SessionlessConnectionTimeout = TimeSpan.FromMilliseconds(Int(key, value, source)) },
                "4lw.commands.whitelist" => options with { FourLetterWordWhitelist = value },
                "extendedTypesEnabled" or "zookeeper.extendedTypesEnabled" => options with { ExtendedTypesEnabled = Bool(key, value, source) },
                "znode.container.checkIntervalMs" => options with { ContainerCheckInterval = TimeSpan.FromMilliseconds(Int(key, value, source)) },
                "DigestAuthenticationProvider.superDigest" or "zookeeper.DigestAuthenticationProvider.superDigest" => options with { SuperDigest = value },
                "metricsProvider.className" or "metricsProvider.httpPort" or "metricsProvider.httpHost" => options,
                _ => Unknown(options, key, unused),
            };
        }

        return new ZooCfg(options, ParseMetrics(values, source), values, unused);
    }

    private static PrometheusMetricsOptions? ParseMetrics(Dictionary<string, string> values, string source)
    {
        var className = values.GetValueOrDefault("metricsProvider.className");
        if (className is null or DefaultMetricsProvider)
        {
            return null;
        }

        if (className != PrometheusMetricsOptions.ClassName)
        {
            throw new FormatException($"{source}: metricsProvider.className={className} is not a provider this peer has; use {PrometheusMetricsOptions.ClassName}.");
        }

        var metrics = new PrometheusMetricsOptions();
        if (values.TryGetValue("metricsProvider.httpPort", out var port))
        {
            metrics = metrics with { HttpPort = Int("metricsProvider.httpPort", port, source) };
        }

        if (values.TryGetValue("metricsProvider.httpHost", out var host))
        {
            metrics = metrics with { HttpHost = host };
        }

        return metrics;
    }

    /// <summary>ZooKeeper's default provider: metrics for mntr only, no endpoint.</summary>
    private const string DefaultMetricsProvider = "org.apache.zookeeper.metrics.impl.DefaultMetricsProvider";

    private static ZkPeerOptions Unknown(ZkPeerOptions options, string key, List<string> unused)
    {
        unused.Add(key);
        return options;
    }

    private static int Int(string key, string value, string source) =>
        int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var result)
            ? result
            : throw new FormatException($"{source}: {key}={value} is not a whole number.");

    private static bool Bool(string key, string value, string source) => value.ToLowerInvariant() switch
    {
        "true" or "yes" => true,
        "false" or "no" => false,
        _ => throw new FormatException($"{source}: {key}={value} is not true or false."),
    };
}
