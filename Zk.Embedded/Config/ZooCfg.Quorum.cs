using System.Globalization;

namespace Zk.Embedded.Config;

public sealed partial class ZooCfg
{
    /// <summary>The replication keys: server.N lines, initLimit, syncLimit and the quorum's authentication.</summary>
    private sealed record Quorum(IReadOnlyList<ZooCfgServer> Servers, int InitLimit, int SyncLimit, string? SecretFile, bool Authentication)
    {
        private const string ServerPrefix = "server.";

        public static bool Owns(string key) =>
            key.StartsWith(ServerPrefix, StringComparison.Ordinal) || key is "initLimit" or "syncLimit" or "quorum.auth.secretFile" or "quorum.auth.enable";

        public static Quorum Parse(Dictionary<string, string> values, string source)
        {
            var servers = new List<ZooCfgServer>();
            foreach (var (key, value) in values)
            {
                if (!key.StartsWith(ServerPrefix, StringComparison.Ordinal))
                    continue;
                if (!int.TryParse(key.AsSpan(ServerPrefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var id) || id is < 1 or > 255)
                    throw new FormatException($"{source}: {key} does not name a server id from 1 to 255.");
                servers.Add(ZooCfgServer.Parse(id, value, source));
            }

            servers.Sort((a, b) => a.Id.CompareTo(b.Id));
            CheckPorts(servers, source);
            if (servers.Count > 1 && servers.All(s => s.Observer))
                throw new FormatException($"{source}: every server is an observer; an ensemble needs voters.");
            var authentication = !values.TryGetValue("quorum.auth.enable", out var enable) || Bool("quorum.auth.enable", enable, source);
            var secretFile = values.GetValueOrDefault("quorum.auth.secretFile");
            if (servers.Count > 1 && authentication && secretFile is null)
                throw new FormatException($"{source}: members prove a shared secret to each other: set quorum.auth.secretFile to a file of at least 16 random bytes that every server holds (or quorum.auth.enable=false on a trusted network).");
            return new Quorum(
                servers,
                values.TryGetValue("initLimit", out var init) ? Positive("initLimit", init, source) : 10,
                values.TryGetValue("syncLimit", out var sync) ? Positive("syncLimit", sync, source) : 5,
                secretFile,
                authentication);
        }

        /// <summary>Two uses of one host:port (quorum, election or client, on one server or two) can never both bind.</summary>
        private static void CheckPorts(List<ZooCfgServer> servers, string source)
        {
            var seen = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var s in servers)
            {
                Claim(seen, $"{s.Host}:{s.QuorumPort}", $"server.{s.Id}'s quorum port", source);
                Claim(seen, $"{s.Host}:{s.ElectionPort}", $"server.{s.Id}'s election port", source);
                if (s.ClientPort is { } client)
                    Claim(seen, $"{s.ClientAddress ?? s.Host}:{client}", $"server.{s.Id}'s client port", source);
            }
        }

        private static void Claim(Dictionary<string, string> seen, string address, string use, string source)
        {
            if (!seen.TryAdd(address, use))
                throw new FormatException($"{source}: {use} and {seen[address]} are both {address}.");
        }

        private static int Positive(string key, string value, string source) =>
            Int(key, value, source) is var n and > 0 ? n : throw new FormatException($"{source}: {key}={value} must be at least 1.");
    }
}
