namespace Zk.Embedded.Metrics;

/// <summary>
/// ZooKeeper's Prometheus metrics provider, as zoo.cfg configures it:
/// <c>metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider</c>,
/// <c>metricsProvider.httpHost</c> and <c>metricsProvider.httpPort</c>. <see cref="PrometheusMetricsServer"/> serves
/// <c>/metrics</c> with them.
/// </summary>
public sealed record PrometheusMetricsOptions
{
    /// <summary>The class name zoo.cfg gives for this provider (the only one this peer has).</summary>
    public const string ClassName = "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider";

    /// <summary>metricsProvider.httpHost: the address the endpoint binds; ZooKeeper's default 0.0.0.0 (every interface).</summary>
    public string HttpHost { get; init; } = "0.0.0.0";

    /// <summary>metricsProvider.httpPort: the endpoint's TCP port (ZooKeeper's docs use 7000); 0 picks a free one.</summary>
    public int HttpPort { get; init; } = 7000;

    /// <summary>Checks the options; throws <see cref="ArgumentException"/> naming the zoo.cfg key.</summary>
    public void Validate()
    {
        if (HttpPort is < 0 or > 65535)
        {
            throw new ArgumentException("metricsProvider.httpPort must be 0..65535.", nameof(HttpPort));
        }

        if (string.IsNullOrWhiteSpace(HttpHost))
        {
            throw new ArgumentException("metricsProvider.httpHost must be an address or a host name.", nameof(HttpHost));
        }
    }
}
