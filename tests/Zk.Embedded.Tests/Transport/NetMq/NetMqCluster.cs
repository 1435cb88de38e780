using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Zk.Embedded.Transport;
using Zk.Transport.NetMQ;

namespace Zk.Embedded.Tests.Transport.NetMq;

/// <summary>
/// Peers 1..<paramref name="members"/> on loopback, real NetMQ sockets, one shared secret. Ports are picked once
/// (free ephemeral ports) so a restarted peer listens where the others look for it.
/// </summary>
public sealed class NetMqCluster(TransportLimits limits, int members = 3, Func<NetMqTransportOptions, NetMqTransportOptions>? customize = null) : ITransportCluster
{
    private readonly List<IPeerTransport> _started = [];

    public byte[] Secret { get; } = RandomNumberGenerator.GetBytes(32);

    public IReadOnlyDictionary<int, string> Members { get; } =
        Enumerable.Range(1, members).ToDictionary(id => id, _ => $"127.0.0.1:{FreePort()}");

    public int Port(int id) => int.Parse(Members[id].Split(':')[1]);

    public NetMqTransportOptions Options(int id) => new()
    {
        LocalId = id,
        Members = Members,
        SharedSecret = Secret,
        Limits = limits,
        ReconnectIntervalMax = TimeSpan.FromMilliseconds(500),
    };

    public ValueTask<IPeerTransport> StartAsync(int id)
    {
        var options = Options(id);
        var transport = NetMqTransport.Start(customize is null ? options : customize(options));
        lock (_started)
            _started.Add(transport);
        return ValueTask.FromResult(transport);
    }

    public async ValueTask DisposeAsync()
    {
        IPeerTransport[] started;
        lock (_started)
            started = [.. _started];
        foreach (var transport in started)
            await transport.DisposeAsync();
    }

    /// <summary>A port nothing listens on now (<see cref="Interop.InteropTools.FreeLoopbackPort"/>).</summary>
    public static int FreePort() => Interop.InteropTools.FreeLoopbackPort();
}
