using System.Net;
using Zk.Embedded.Api;
using Zk.Embedded.Tree;

namespace Zk.Embedded.Wire.Client;

/// <summary>
/// A parsed connect string, <c>host:port[,host:port...][/chroot]</c> (ZooKeeper's <c>ConnectStringParser</c>): the
/// servers, shuffled once as <c>StaticHostProvider</c> does so clients spread over the ensemble, and the chroot.
/// </summary>
internal sealed class ConnectString
{
    private const int DefaultPort = 2181;

    private ConnectString(IReadOnlyList<DnsEndPoint> hosts, Chroot chroot)
    {
        Hosts = hosts;
        Chroot = chroot;
    }

    public IReadOnlyList<DnsEndPoint> Hosts { get; }

    public Chroot Chroot { get; }

    public static ConnectString Parse(string connectString, Random random)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectString);
        var slash = connectString.IndexOf('/');
        string? chroot = null;
        var hostPart = connectString;
        if (slash >= 0)
        {
            chroot = connectString[slash..];
            hostPart = connectString[..slash];
            if (chroot.Length == 1)
            {
                chroot = null;
            }
            else if (PathRules.Validate(chroot) is { } reason)
            {
                throw new ArgumentException($"The chroot '{chroot}' of the connect string is not a valid path: {reason}", nameof(connectString));
            }
        }

        var hosts = new List<DnsEndPoint>();
        foreach (var entry in hostPart.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            hosts.Add(ParseHost(entry));
        }

        if (hosts.Count == 0)
        {
            throw new ArgumentException($"The connect string '{connectString}' names no server; expected host:port[,host:port...][/chroot].", nameof(connectString));
        }

        var shuffled = hosts.ToArray();
        random.Shuffle(shuffled);
        return new ConnectString(shuffled, new Chroot(chroot));
    }

    private static DnsEndPoint ParseHost(string entry)
    {
        string host;
        var port = DefaultPort;
        if (entry.StartsWith('['))
        {
            // An IPv6 literal: [::1]:2181.
            var close = entry.IndexOf(']');
            if (close < 0)
            {
                throw new ArgumentException($"The server '{entry}' has no closing ']'.");
            }

            host = entry[1..close];
            if (close + 1 < entry.Length)
            {
                port = ParsePort(entry, entry[(close + 1)..].TrimStart(':'));
            }
        }
        else
        {
            var colon = entry.LastIndexOf(':');
            host = colon < 0 ? entry : entry[..colon];
            if (colon >= 0)
            {
                port = ParsePort(entry, entry[(colon + 1)..]);
            }
        }

        return new DnsEndPoint(host, port);
    }

    private static int ParsePort(string entry, string text) =>
        int.TryParse(text, out var port) && port is > 0 and <= 65535
            ? port
            : throw new ArgumentException($"The server '{entry}' has no valid port.");
}

/// <summary>The chroot of a connect string: added to every path sent, stripped from every path received (<c>ClientCnxn</c>).</summary>
internal sealed class Chroot(string? prefix)
{
    public string? Prefix { get; } = prefix;

    public string ToServer(string path)
    {
        if (Prefix is null)
        {
            return path;
        }

        if (string.IsNullOrEmpty(path) || path[0] != '/')
        {
            throw new ZkException(ZkErrorCode.BadArguments, path, $"Path '{path}' must start with '/'.");
        }

        return path.Length == 1 ? Prefix : Prefix + path;
    }

    public string ToClient(string serverPath)
    {
        if (Prefix is null)
        {
            return serverPath;
        }

        if (serverPath.Length == Prefix.Length && serverPath == Prefix)
        {
            return "/";
        }

        return serverPath.Length > Prefix.Length && serverPath.StartsWith(Prefix, StringComparison.Ordinal) && serverPath[Prefix.Length] == '/'
            ? serverPath[Prefix.Length..]
            : serverPath;
    }

    public List<string> ToServer(IReadOnlyList<string> paths)
    {
        var result = new List<string>(paths.Count);
        foreach (var path in paths)
        {
            result.Add(ToServer(path));
        }

        return result;
    }

    public IReadOnlyList<string> ToClient(IReadOnlyList<string>? paths)
    {
        if (paths is null)
        {
            return [];
        }

        if (Prefix is null)
        {
            return paths;
        }

        var result = new string[paths.Count];
        for (var i = 0; i < result.Length; i++)
        {
            result[i] = ToClient(paths[i]);
        }

        return result;
    }
}
