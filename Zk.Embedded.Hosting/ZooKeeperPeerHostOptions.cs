using Zk.Embedded.Metrics;

namespace Zk.Embedded.Hosting;

/// <summary>
/// How the host runs its peer, bound from a configuration section (<c>"ZooKeeper"</c> in appsettings.json):
/// <code>
/// "ZooKeeper": {
///   "ZooCfg": "conf/zoo.cfg",
///   "Peer": { "DataDir": "zkdata", "ClientPort": 2181, "TickTime": "00:00:02" },
///   "Prometheus": { "HttpHost": "127.0.0.1", "HttpPort": 7000 }
/// }
/// </code>
/// With <see cref="ZooCfg"/>, the file gives the peer's options and its <c>metricsProvider.*</c> keys the endpoint,
/// and the <c>Peer</c> and <c>Prometheus</c> sections change what they name on top of it.
/// </summary>
public sealed class ZooKeeperPeerHostOptions
{
    /// <summary>The zoo.cfg the options were read from, if any (see <see cref="UseZooCfg"/>).</summary>
    public string? ZooCfg { get; set; }

    /// <summary>The peer's options (zoo.cfg's names in each property's docs). The defaults run an in-memory peer with no client port.</summary>
    public ZkPeerOptions Peer { get; set; } = new();

    /// <summary>ZooKeeper's Prometheus endpoint; null serves none.</summary>
    public PrometheusMetricsOptions? Prometheus { get; set; }

    /// <summary>
    /// Reads a zoo.cfg now: its options become <see cref="Peer"/>, its <c>metricsProvider.*</c> keys
    /// <see cref="Prometheus"/>. Change them afterwards with <c>Peer = Peer with { ... }</c>.
    /// </summary>
    /// <exception cref="FormatException">a value is malformed; the message names the key.</exception>
    /// <exception cref="IOException">the file cannot be read.</exception>
    public ZooKeeperPeerHostOptions UseZooCfg(string path)
    {
        var cfg = Config.ZooCfg.Load(path);
        ZooCfg = path;
        Peer = cfg.Options;
        Prometheus = cfg.Metrics;
        return this;
    }

    /// <summary>How the injectable <see cref="Api.IZooKeeper"/> session is opened.</summary>
    public ZkSessionOptions Session { get; set; } = new();
}
