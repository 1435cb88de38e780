using System.Globalization;

namespace Zk.Embedded.Config;

/// <summary>
/// One <c>server.N=host:quorumPort:electionPort[:participant|observer][;[clientHost:]clientPort]</c> line of a
/// zoo.cfg. Zk.Embedded's members talk over one connection per pair on the quorum port; the election port is read,
/// checked, and not used (docs/zookeeper-differences.md).
/// </summary>
/// <param name="Id">N, the member's myid.</param>
/// <param name="Host">where the member listens for the others.</param>
/// <param name="QuorumPort">the member's quorum port (the transport's).</param>
/// <param name="ElectionPort">ZooKeeper's leader-election port: checked for clashes, otherwise unused.</param>
/// <param name="Observer">an observer (<c>:observer</c>): it receives committed txns and never votes.</param>
/// <param name="ClientAddress">the member's client address from the <c>;</c> suffix, if any.</param>
/// <param name="ClientPort">the member's client port from the <c>;</c> suffix, if any.</param>
public sealed record ZooCfgServer(int Id, string Host, int QuorumPort, int ElectionPort, bool Observer, string? ClientAddress, int? ClientPort)
{
    /// <summary>The quorum address as <c>host:port</c>, brackets kept for an IPv6 host.</summary>
    public string QuorumAddress => $"{Host}:{QuorumPort.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>Parses the value of <c>server.<paramref name="id"/></c>.</summary>
    /// <exception cref="FormatException">the line is malformed; the message quotes it.</exception>
    public static ZooCfgServer Parse(int id, string value, string source)
    {
        var line = $"{source}: server.{id}={value}";
        var (address, client) = value.IndexOf(';') is var semi and >= 0 ? (value[..semi].Trim(), value[(semi + 1)..].Trim()) : (value.Trim(), null);
        var (host, rest) = SplitHost(address, line);
        var parts = rest.Split(':');
        if (parts.Length is < 2 or > 3)
            throw new FormatException($"{line} is not host:quorumPort:electionPort[:participant|observer][;[clientHost:]clientPort].");
        var observer = parts.Length == 3 && parts[2] switch
        {
            "observer" => true,
            "participant" => false,
            _ => throw new FormatException($"{line}: the role '{parts[2]}' is neither participant nor observer."),
        };
        var (clientAddress, clientPort) = client is null ? (null, (int?)null) : ParseClient(client, line);
        return new ZooCfgServer(id, host, Port(parts[0], line), Port(parts[1], line), observer, clientAddress, clientPort);
    }

    private static (string? Address, int? Port) ParseClient(string client, string line)
    {
        var colon = client.LastIndexOf(':');
        return colon < 0 ? (null, Port(client, line)) : (client[..colon], Port(client[(colon + 1)..], line));
    }

    private static (string Host, string Ports) SplitHost(string address, string line)
    {
        if (address.StartsWith('['))
        {
            var close = address.IndexOf(']');
            if (close < 0 || close + 1 >= address.Length || address[close + 1] != ':')
                throw new FormatException($"{line}: an IPv6 host must be written [address]:quorumPort:electionPort.");
            return (address[..(close + 1)], address[(close + 2)..]);
        }

        var first = address.IndexOf(':');
        if (first <= 0)
            throw new FormatException($"{line} names no host:quorumPort:electionPort.");
        return (address[..first], address[(first + 1)..]);
    }

    private static int Port(string text, string line) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is > 0 and < 65536
            ? port
            : throw new FormatException($"{line}: '{text}' is not a port (1-65535).");
}
