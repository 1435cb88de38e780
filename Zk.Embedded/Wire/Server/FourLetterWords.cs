using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using Zk.Embedded.Api;

namespace Zk.Embedded.Wire.Server;

/// <summary>
/// ZooKeeper's four-letter words (<c>FourLetterCommands</c>): a connection whose first four bytes spell one gets a
/// text answer and is closed. Only whitelisted words run (4lw.commands.whitelist; "srvr" always, "*" all).
/// </summary>
internal static class FourLetterWords
{
    /// <summary>The words this peer knows.</summary>
    public static readonly string[] Known = ["ruok", "srvr", "stat", "mntr", "conf", "cons", "crst", "srst", "envi", "wchs", "wchc", "wchp", "dump", "isro"];

    /// <summary>The ZooKeeper level we implement, as envi and srvr report it; clients gate features on it.</summary>
    public const string ZooKeeperVersion = "3.8.4";

    /// <summary>True when the first four bytes of a connection spell a known word.</summary>
    public static bool TryParse(ReadOnlySpan<byte> first4, out string word)
    {
        word = Encoding.ASCII.GetString(first4[..4]);
        return Array.IndexOf(Known, word) >= 0;
    }

    /// <summary>ZooKeeper's answer when the server is not running (AbstractFourLetterCommand.ZK_NOT_SERVING).</summary>
    public const string NotServingAnswer = "This ZooKeeper instance is not currently serving requests\n";

    /// <summary>
    /// The answer of a peer that no longer serves writes (its txn log cannot be written), or null for a word that
    /// answers as usual (envi). ruok answers nothing, as ZooKeeper documents it for a server in an error state (its
    /// process exits there, so it never says imok either); isro says "null" as IsroCommand does.
    /// </summary>
    private static string? NotServing(string word) => word switch
    {
        "ruok" => "",
        "isro" => "null",
        "envi" => null,
        _ => NotServingAnswer,
    };

    /// <summary>The whitelist as ZooKeeper reads it: comma-separated words, "*" for all; srvr is always on.</summary>
    public static HashSet<string> ParseWhitelist(string? setting)
    {
        var allowed = new HashSet<string>(StringComparer.Ordinal) { "srvr" };
        if (string.IsNullOrWhiteSpace(setting))
        {
            return allowed;
        }

        foreach (var part in setting.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (part == "*")
            {
                allowed.UnionWith(Known);
            }
            else
            {
                allowed.Add(part);
            }
        }

        return allowed;
    }

    /// <summary>
    /// The answer to <paramref name="word"/>, in ZooKeeper's format, and what the caller must then do: srst and crst
    /// reset counters, which are the caller's (the facts were read before).
    /// </summary>
    public static string Answer(string word, HashSet<string> whitelist, ServerFacts facts, out FourLetterWordEffect effect)
    {
        effect = FourLetterWordEffect.None;
        if (!whitelist.Contains(word))
        {
            return $"{word} is not executed because it is not in the whitelist.\n";
        }

        if (!facts.Serving && NotServing(word) is { } refusal)
        {
            return refusal;
        }

        var text = new StringBuilder();
        switch (word)
        {
            case "ruok":
                return "imok";
            case "isro":
                return "rw";
            case "srvr":
            case "stat":
                text.Append("Zookeeper version: ").Append(ZooKeeperVersion).Append("-zk-embedded, built on 2026-11-25 00:00 UTC\n");
                if (word == "stat")
                {
                    text.Append("Clients:\n");
                    foreach (var client in facts.Connections)
                    {
                        AppendConnection(text, client, latencies: false);
                    }

                    text.Append('\n');
                }

                text.Append("Latency min/avg/max: ").Append(facts.Server.MinLatencyMs).Append('/')
                    .Append(facts.Server.AvgLatencyMs.ToString(CultureInfo.InvariantCulture)).Append('/').Append(facts.Server.MaxLatencyMs).Append('\n');
                text.Append("Received: ").Append(facts.Server.Received).Append('\n');
                text.Append("Sent: ").Append(facts.Server.Sent).Append('\n');
                text.Append("Connections: ").Append(facts.Connections.Count).Append('\n');
                text.Append("Outstanding: ").Append(facts.Server.Outstanding).Append('\n');
                text.Append("Zxid: ").Append(facts.Zxid.ToString()).Append('\n');
                text.Append("Mode: ").Append(facts.Mode).Append('\n');
                text.Append("Node count: ").Append(facts.NodeCount).Append('\n');
                return text.ToString();
            case "mntr":
                Line(text, "zk_version", ZooKeeperVersion + "-zk-embedded");
                Line(text, "zk_server_state", facts.Mode);
                if (facts.Ensemble is { } ensemble)
                {
                    Line(text, "zk_peer_state", ensemble.PeerState);
                    if (facts.Mode == "leader")
                    {
                        Line(text, "zk_learners", ensemble.Learners);
                        Line(text, "zk_synced_followers", ensemble.SyncedFollowers);
                        Line(text, "zk_synced_observers", ensemble.SyncedObservers);
                    }
                }

                Line(text, "zk_avg_latency", facts.Server.AvgLatencyMs.ToString(CultureInfo.InvariantCulture));
                Line(text, "zk_max_latency", facts.Server.MaxLatencyMs);
                Line(text, "zk_min_latency", facts.Server.MinLatencyMs);
                Line(text, "zk_packets_received", facts.Server.Received);
                Line(text, "zk_packets_sent", facts.Server.Sent);
                Line(text, "zk_num_alive_connections", facts.Connections.Count);
                Line(text, "zk_outstanding_requests", facts.Server.Outstanding);
                Line(text, "zk_znode_count", facts.NodeCount);
                Line(text, "zk_watch_count", facts.WatchCount);
                Line(text, "zk_ephemerals_count", facts.EphemeralCount);
                Line(text, "zk_global_sessions", facts.SessionCount);
                Line(text, "zk_approximate_data_size", facts.ApproximateDataSize);
                if (FileDescriptors() is var (open, max))
                {
                    // ZooKeeper reports these only where the JVM can count them (UnixOperatingSystemMXBean).
                    Line(text, "zk_open_file_descriptor_count", open);
                    Line(text, "zk_max_file_descriptor_count", max);
                }

                Line(text, "zk_last_zxid", facts.Zxid.ToString());
                return text.ToString();
            case "envi":
                text.Append("Environment:\n");
                text.Append("zookeeper.version=").Append(ZooKeeperVersion).Append("-zk-embedded, built on 2026-11-25 00:00 UTC\n");
                text.Append("host.name=").Append(Environment.MachineName).Append('\n');
                text.Append("java.version=n/a (.NET ").Append(Environment.Version).Append(")\n");
                text.Append("os.name=").Append(System.Runtime.InteropServices.RuntimeInformation.OSDescription).Append('\n');
                text.Append("user.dir=").Append(Environment.CurrentDirectory).Append('\n');
                return text.ToString();
            case "conf":
                foreach (var (key, value) in facts.Configuration)
                {
                    text.Append(key).Append('=').Append(value).Append('\n');
                }

                return text.ToString();
            case "cons":
                foreach (var client in facts.Connections)
                {
                    AppendConnection(text, client, latencies: true);
                }

                return text.Append('\n').ToString();
            case "crst":
                effect = FourLetterWordEffect.ResetConnectionStats;
                return "Connection stats reset.\n";
            case "srst":
                effect = FourLetterWordEffect.ResetServerStats;
                return "Server stats reset.\n";
            case "wchs":
                // WatchManager.toString: the watchers (connections; here sessions) that watch something, not every connection.
                var watching = facts.WatchedPaths.SelectMany(p => p.Sessions).Distinct().Count();
                return $"{watching} connections watching {facts.WatchedPaths.Count} paths\nTotal watches:{facts.WatchCount}\n";
            case "wchp":
                foreach (var (path, sessions) in facts.WatchedPaths)
                {
                    text.Append(path).Append('\n');
                    foreach (var id in sessions)
                    {
                        text.Append('\t').Append(id.ToString()).Append('\n');
                    }
                }

                return text.ToString();
            case "wchc":
                foreach (var group in facts.WatchedPaths.SelectMany(p => p.Sessions.Select(s => (s, p.Path))).GroupBy(x => x.s))
                {
                    text.Append(group.Key.ToString()).Append('\n');
                    foreach (var (_, path) in group)
                    {
                        text.Append('\t').Append(path).Append('\n');
                    }
                }

                return text.ToString();
            case "dump":
                text.Append("SessionTracker dump:\nSession Sets (").Append(facts.SessionCount).Append("):\n");
                text.Append("ephemeral nodes dump:\nSessions with Ephemerals (").Append(facts.EphemeralsBySession.Count).Append("):\n");
                foreach (var (session, paths) in facts.EphemeralsBySession)
                {
                    text.Append(session.ToString()).Append(":\n");
                    foreach (var path in paths)
                    {
                        text.Append('\t').Append(path).Append('\n');
                    }
                }

                return text.ToString();
            default:
                return $"{word} is not executed because it is not in the whitelist.\n";
        }
    }

    /// <summary>The int a word's four bytes make when read as a frame length (how ZooKeeper tells them apart).</summary>
    public static int AsInt(string word) => BinaryPrimitives.ReadInt32BigEndian(Encoding.ASCII.GetBytes(word));

    /// <summary>Open descriptors and the soft limit (RLIMIT_NOFILE), from /proc on Linux; null elsewhere.</summary>
    private static (long Open, long Max)? FileDescriptors()
    {
        try
        {
            if (!OperatingSystem.IsLinux())
            {
                return null;
            }

            var open = Directory.EnumerateFileSystemEntries("/proc/self/fd").LongCount();
            var limits = File.ReadLines("/proc/self/limits").FirstOrDefault(l => l.StartsWith("Max open files", StringComparison.Ordinal));
            var soft = limits?["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault();
            return long.TryParse(soft, NumberStyles.Integer, CultureInfo.InvariantCulture, out var max) ? (open, max) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>ServerCnxn.dumpConnectionInfo: brief for stat, with the latencies for cons.</summary>
    private static void AppendConnection(StringBuilder text, ConnectionFacts client, bool latencies)
    {
        var stats = client.Stats;
        text.Append(' ').Append(client.Remote).Append("[1](queued=").Append(stats.Outstanding)
            .Append(",recved=").Append(stats.Received).Append(",sent=").Append(stats.Sent);
        if (latencies)
        {
            text.Append(",minlat=").Append(stats.MinLatencyMs)
                .Append(",avglat=").Append(stats.AvgLatencyMs.ToString(CultureInfo.InvariantCulture))
                .Append(",maxlat=").Append(stats.MaxLatencyMs);
        }

        text.Append(")\n");
    }

    private static void Line(StringBuilder text, string key, object value) =>
        text.Append(key).Append('\t').Append(Convert.ToString(value, CultureInfo.InvariantCulture)).Append('\n');
}

/// <summary>One client connection as stat and cons list it.</summary>
internal sealed record ConnectionFacts(string Remote, RequestStatsSnapshot Stats);

/// <summary>
/// What the four-letter words report. Each part is gathered the first time a word asks for it, so a word that needs
/// little (ruok, a word the whitelist refuses) walks nothing: anyone who can reach the port may send words.
/// </summary>
internal sealed class ServerFacts(
    Func<(Zxid Zxid, int NodeCount, int SessionCount, int WatchCount)> counts,
    Func<RequestStatsSnapshot> server,
    Func<int> ephemeralCount,
    Func<long> approximateDataSize,
    Func<IReadOnlyList<ConnectionFacts>> connections,
    Func<IReadOnlyList<(string Path, SessionId[] Sessions)>> watchedPaths,
    Func<IReadOnlyList<(SessionId Session, string[] Paths)>> ephemeralsBySession,
    Func<IReadOnlyList<(string Key, string Value)>> configuration,
    bool Serving = true,
    string Mode = "standalone",
    EnsembleFacts? Ensemble = null)
{
    private readonly Lazy<(Zxid Zxid, int NodeCount, int SessionCount, int WatchCount)> _counts = new(counts);
    private readonly Lazy<RequestStatsSnapshot> _server = new(server);
    private readonly Lazy<int> _ephemeralCount = new(ephemeralCount);
    private readonly Lazy<long> _approximateDataSize = new(approximateDataSize);
    private readonly Lazy<IReadOnlyList<ConnectionFacts>> _connections = new(connections);
    private readonly Lazy<IReadOnlyList<(string Path, SessionId[] Sessions)>> _watchedPaths = new(watchedPaths);
    private readonly Lazy<IReadOnlyList<(SessionId Session, string[] Paths)>> _ephemeralsBySession = new(ephemeralsBySession);
    private readonly Lazy<IReadOnlyList<(string Key, string Value)>> _configuration = new(configuration);

    public Zxid Zxid => _counts.Value.Zxid;

    public int NodeCount => _counts.Value.NodeCount;

    public int SessionCount => _counts.Value.SessionCount;

    public int WatchCount => _counts.Value.WatchCount;

    public RequestStatsSnapshot Server => _server.Value;

    public int EphemeralCount => _ephemeralCount.Value;

    /// <summary>A walk of the whole tree: mntr only.</summary>
    public long ApproximateDataSize => _approximateDataSize.Value;

    public IReadOnlyList<ConnectionFacts> Connections => _connections.Value;

    public IReadOnlyList<(string Path, SessionId[] Sessions)> WatchedPaths => _watchedPaths.Value;

    public IReadOnlyList<(SessionId Session, string[] Paths)> EphemeralsBySession => _ephemeralsBySession.Value;

    public IReadOnlyList<(string Key, string Value)> Configuration => _configuration.Value;

    /// <summary>False once the peer stopped serving writes (its log could not be written): see <see cref="FourLetterWords"/>.</summary>
    public bool Serving { get; } = Serving;

    /// <summary>srvr's <c>Mode:</c> and mntr's <c>zk_server_state</c>: standalone, leader, follower or observer.</summary>
    public string Mode { get; } = Mode;

    /// <summary>An ensemble member's place (mntr's zk_peer_state and, on the leader, its learner counts); null standalone.</summary>
    public EnsembleFacts? Ensemble { get; } = Ensemble;
}

/// <param name="PeerState">ZooKeeper's <c>getDetailedPeerState</c>: "following - broadcast", "leading - discovery", ...</param>
internal sealed record EnsembleFacts(string PeerState, int Learners, int SyncedFollowers, int SyncedObservers);

/// <summary>What answering a four-letter word asks of the port beyond sending the text.</summary>
internal enum FourLetterWordEffect
{
    None,

    /// <summary>srst: the port's request counters and latencies start again.</summary>
    ResetServerStats,

    /// <summary>crst: every connection's counters start again.</summary>
    ResetConnectionStats,
}
