using System.Globalization;
using Zk.Embedded.Metrics;

namespace Zk.Embedded.Config;

/// <summary>
/// Reads a zoo.cfg (Java properties: key=value, # and ! comments) into <see cref="ZkPeerOptions"/>. Keys this peer
/// does not use yet are kept in <see cref="Unused"/> so a caller can say so, rather than failing.
/// </summary>
public sealed partial class ZooCfg
{
    private ZooCfg(ZkPeerOptions options, PrometheusMetricsOptions? metrics, IReadOnlyDictionary<string, string> all, IReadOnlyList<string> unused, Quorum quorum)
    {
        Options = options;
        Metrics = metrics;
        All = all;
        Unused = unused;
        Servers = quorum.Servers;
        InitLimit = quorum.InitLimit;
        SyncLimit = quorum.SyncLimit;
        QuorumSecretFile = quorum.SecretFile;
        QuorumAuthentication = quorum.Authentication;
    }

    /// <summary>The <c>server.N</c> lines, by id. More than one makes the peer an ensemble member (see <see cref="IsReplicated"/>).</summary>
    public IReadOnlyList<ZooCfgServer> Servers { get; }

    /// <summary>
    /// True with two or more <c>server.N</c> lines: the peer runs as member <see cref="MyId"/>. With one line or none it
    /// runs standalone, as ZooKeeper does.
    /// </summary>
    public bool IsReplicated => Servers.Count > 1;

    /// <summary>The member's id from <c>dataDir/myid</c> (read by <see cref="Load"/> when <see cref="IsReplicated"/>).</summary>
    public int? MyId { get; private init; }

    /// <summary>zoo.cfg <c>initLimit</c> (10): ticks a learner may take to connect to and sync with its leader.</summary>
    public int InitLimit { get; }

    /// <summary>zoo.cfg <c>syncLimit</c> (5): ticks a learner may stay silent or behind before it is dropped.</summary>
    public int SyncLimit { get; }

    /// <summary>
    /// <c>quorum.auth.secretFile</c> (ours): a file of at least 16 bytes every member holds; members prove it to each
    /// other on each connection. Required for a replicated peer unless <see cref="QuorumAuthentication"/> is false.
    /// </summary>
    public string? QuorumSecretFile { get; }

    /// <summary><c>quorum.auth.enable</c> (ours, true): false lets any process that reaches the quorum port join, for trusted networks only.</summary>
    public bool QuorumAuthentication { get; }

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

    /// <summary>Reads a zoo.cfg file, and for a replicated one its <c>dataDir/myid</c>.</summary>
    /// <exception cref="FormatException">a value is malformed, or myid is missing or not one of the servers; the message says which.</exception>
    /// <exception cref="IOException">the file cannot be read.</exception>
    public static ZooCfg Load(string path)
    {
        var cfg = Parse(File.ReadAllText(path), path);
        return cfg.IsReplicated ? cfg.With(ReadMyId(cfg, path)) : cfg;
    }

    private ZooCfg With(int myId) => new(Options, Metrics, All, Unused, new Quorum(Servers, InitLimit, SyncLimit, QuorumSecretFile, QuorumAuthentication)) { MyId = myId };

    private static int ReadMyId(ZooCfg cfg, string source)
    {
        if (cfg.Options.DataDir is not { } dataDir)
            throw new FormatException($"{source}: a replicated peer (server.N lines) needs dataDir, for its myid file.");
        var file = Path.Combine(dataDir, "myid");
        if (!File.Exists(file))
            throw new FormatException($"{source}: {file} is missing; write this server's id (one of {string.Join(", ", cfg.Servers.Select(s => s.Id))}) into it.");
        var text = File.ReadAllText(file).Trim();
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var id))
            throw new FormatException($"{file}: '{text}' is not a server id.");
        if (cfg.Servers.All(s => s.Id != id))
            throw new FormatException($"{file}: myid {id} is not among the servers of {source} ({string.Join(", ", cfg.Servers.Select(s => $"server.{s.Id}"))}).");
        return id;
    }

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
        var quorum = Quorum.Parse(values, source);
        foreach (var (key, value) in values)
        {
            if (Quorum.Owns(key))
                continue;
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

        return new ZooCfg(options, ParseMetrics(values, source), values, unused, quorum);
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
