using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Zk.Embedded.Transport;

namespace Zk.Transport.NetMQ;

/// <summary>
/// How one peer joins the ensemble's NetMQ network: its id, every member's quorum address, the shared secret the
/// members prove to each other, and the transport's bounds and timings. Validated once by
/// <see cref="NetMqTransport.Start"/>.
/// </summary>
public sealed record NetMqTransportOptions
{
    /// <summary>This peer's id (zoo.cfg's <c>server.N</c>); must be a key of <see cref="Members"/>.</summary>
    public required int LocalId { get; init; }

    /// <summary>
    /// Every member's quorum address as <c>host:port</c> (zoo.cfg's <c>server.N=host:quorumPort:...</c>), this peer's
    /// own included. A connection that does not prove it is one of these ids is never delivered from.
    /// </summary>
    public required IReadOnlyDictionary<int, string> Members { get; init; }

    /// <summary>
    /// Where to listen, as <c>host:port</c>; by default this peer's own address in <see cref="Members"/>. Set it to
    /// <c>0.0.0.0:port</c> for ZooKeeper's <c>quorumListenOnAllIPs=true</c>.
    /// </summary>
    public string? ListenAddress { get; init; }

    /// <summary>
    /// The secret every member holds (at least 16 bytes; 32 random bytes are right). Each connection starts with a
    /// challenge-response handshake in which both ends prove they know it (HMAC-SHA256 over fresh nonces), so a
    /// process without it can neither join nor inject messages. Required unless
    /// <see cref="AllowUnauthenticatedPeers"/> is set.
    /// </summary>
    public byte[]? SharedSecret { get; init; }

    /// <summary>
    /// Turns authentication off: any process that names a member id in its handshake is taken for that member. Only
    /// for tests and networks where every process that can reach the quorum port is trusted. Off by default.
    /// </summary>
    public bool AllowUnauthenticatedPeers { get; init; }

    /// <summary>The message and queue bounds (the contract's <see cref="TransportLimits"/>).</summary>
    public TransportLimits Limits { get; init; } = new();

    /// <summary>
    /// Messages NetMQ itself may hold per connection beyond <see cref="Limits"/> (its high-water mark): so a slow
    /// peer holds at most <see cref="TransportLimits.QueueBytes"/> plus this many messages in the socket. 64 keeps
    /// the socket busy without letting it hide a large backlog from the byte bound.
    /// </summary>
    public int SocketHighWatermark { get; init; } = 64;

    /// <summary>How often each link pings the member it connects to (1 s); the member answers PONG.</summary>
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long without a PONG before a link is taken for dead and dropped (5 s):
    /// the longest a vanished machine (no FIN, no RST) stays Connected. A process that exits is seen at once.
    /// </summary>
    public TimeSpan HeartbeatTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The first wait before reconnecting to a peer (100 ms); doubled per failed attempt.</summary>
    public TimeSpan ReconnectInterval { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>The longest wait between reconnect attempts (1 s), so a returning peer is found within about this.</summary>
    public TimeSpan ReconnectIntervalMax { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a connected peer may take to answer the handshake before the connection is dropped and retried (5 s).</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Where the transport logs connections, refused handshakes and drops.</summary>
    public ILogger Logger { get; init; } = NullLogger.Instance;

    /// <summary>Throws naming the option that is wrong.</summary>
    /// <exception cref="ArgumentException">An option is missing, out of range or inconsistent.</exception>
    public void Validate()
    {
        Limits.Validate();
        if (Members is null || !Members.ContainsKey(LocalId))
            throw new ArgumentException($"Members must contain this peer's own id {LocalId}", nameof(Members));
        foreach (var (id, address) in Members)
            _ = Endpoints.Tcp(address, $"{nameof(Members)}[{id}]");
        if (ListenAddress is not null)
            _ = Endpoints.Tcp(ListenAddress, nameof(ListenAddress));
        if (SharedSecret is null && !AllowUnauthenticatedPeers)
            throw new ArgumentException("SharedSecret is required: set it (the same on every member), or set AllowUnauthenticatedPeers to run without authentication", nameof(SharedSecret));
        if (SharedSecret is { Length: < 16 })
            throw new ArgumentException($"SharedSecret must be at least 16 bytes, not {SharedSecret.Length}", nameof(SharedSecret));
        if (SocketHighWatermark < 1)
            throw new ArgumentOutOfRangeException(nameof(SocketHighWatermark), SocketHighWatermark, "SocketHighWatermark must be at least 1");
        Positive(HeartbeatInterval, nameof(HeartbeatInterval));
        Positive(ReconnectInterval, nameof(ReconnectInterval));
        Positive(HandshakeTimeout, nameof(HandshakeTimeout));
        if (HeartbeatTimeout <= HeartbeatInterval)
            throw new ArgumentOutOfRangeException(nameof(HeartbeatTimeout), HeartbeatTimeout, "HeartbeatTimeout must be longer than HeartbeatInterval");
        if (ReconnectIntervalMax < ReconnectInterval)
            throw new ArgumentOutOfRangeException(nameof(ReconnectIntervalMax), ReconnectIntervalMax, "ReconnectIntervalMax must be at least ReconnectInterval");
    }

    private static void Positive(TimeSpan value, string name)
    {
        if (value <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be positive");
    }
}

/// <summary>Turns <c>host:port</c> into a NetMQ TCP endpoint.</summary>
internal static class Endpoints
{
    public static string Tcp(string address, string option)
    {
        var colon = address?.LastIndexOf(':') ?? -1;
        if (address is null || colon <= 0 || !ushort.TryParse(address.AsSpan(colon + 1), out _))
            throw new ArgumentException($"{option} must be host:port, not '{address}'", option);
        var host = address[..colon];   // an IPv6 host keeps its brackets ([::1]:2888), as NetMQ's tcp:// wants
        return host is "0.0.0.0" or "*" ? $"tcp://*:{address[(colon + 1)..]}" : $"tcp://{host}:{address[(colon + 1)..]}";
    }

    /// <summary>NetMQ sockets are IPv4-only unless told otherwise; an IPv6 endpoint needs dual-stack.</summary>
    public static bool IsIPv6(string endpoint) => endpoint.Contains('[', StringComparison.Ordinal);
}
