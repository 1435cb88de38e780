using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Text;

namespace Zk.Embedded.Metrics;

/// <summary>
/// Listens to the <c>Zk.Embedded</c> meter and renders it in Prometheus text format (version 0.0.4). Instruments
/// that mean what one of Apache ZooKeeper's metrics means get that metric's name and unit (<see cref="ZooKeeperNames"/>),
/// so an operator's ZooKeeper dashboards and alerts work; the others get the usual OpenTelemetry-to-Prometheus name
/// (<c>zk.requests</c> → <c>zk_requests_total</c>).
/// </summary>
internal sealed class MetricsCollector : IDisposable
{
    private static readonly double[] Basic = [0.5];
    private static readonly double[] Advanced = [0.5, 0.9, 0.99];

    /// <summary>Ours → Apache ZooKeeper 3.8's (ServerMetrics, ZooKeeperServer.registerMetrics), with the scale to its unit.</summary>
    private static readonly Dictionary<string, (string Name, MetricKind Kind, double Scale, double[] Quantiles)> ZooKeeperNames = new(StringComparer.Ordinal)
    {
        ["zk.znodes"] = ("znode_count", MetricKind.Gauge, 1, []),
        ["zk.watches.active"] = ("watch_count", MetricKind.Gauge, 1, []),
        ["zk.sessions.active"] = ("global_sessions", MetricKind.Gauge, 1, []),
        ["zk.txn.committed"] = ("commit_count", MetricKind.Counter, 1, []),
        ["zk.txn.log.sync.duration"] = ("fsynctime", MetricKind.Summary, 1000, Basic),
        ["zk.write.duration"] = ("updatelatency", MetricKind.Summary, 1000, Advanced),
        ["zk.txn.batch.size"] = ("sync_processor_batch_size", MetricKind.Summary, 1, Basic),
    };

    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<Instrument, MetricFamily> _families = new();
    private readonly Lock _scrape = new();

    public MetricsCollector()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            // The library's own meter and its transports' (Zk.Transport.*: their peer links' drops and rejections).
            if (instrument.Meter.Name == Telemetry.MeterName || instrument.Meter.Name.StartsWith("Zk.Transport.", StringComparison.Ordinal))
            {
                listener.EnableMeasurementEvents(instrument, _families.GetOrAdd(instrument, Describe));
            }
        };
        _listener.SetMeasurementEventCallback<long>(static (_, value, tags, state) => ((MetricFamily)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<int>(static (_, value, tags, state) => ((MetricFamily)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<double>(static (_, value, tags, state) => ((MetricFamily)state!).Record(value, tags));
        // The instruments are static fields of Telemetry: touching it creates them all, so an endpoint opened before
        // any peer (as zk start does) already shows ZooKeeper's metrics at zero.
        _ = Telemetry.Meter;
        _listener.Start();
    }

    /// <summary>The whole exposition: gauges are observed now, everything else is as recorded.</summary>
    public string Scrape()
    {
        var text = new StringBuilder(4096);
        lock (_scrape)
        {
            _listener.RecordObservableInstruments();
            var families = _families.Values.ToArray();
            Array.Sort(families, static (a, b) => string.CompareOrdinal(a.Name, b.Name));
            foreach (var family in families)
            {
                family.Write(text);
            }
        }

        return text.ToString();
    }

    public void Dispose() => _listener.Dispose();

    private static MetricFamily Describe(Instrument instrument)
    {
        var help = instrument.Description ?? instrument.Name;
        if (ZooKeeperNames.TryGetValue(instrument.Name, out var zk))
        {
            return new MetricFamily(zk.Name, help, zk.Kind, zk.Scale, zk.Quantiles, shownEmpty: true);
        }

        var name = instrument.Name.Replace('.', '_');
        var unit = instrument.Unit is { Length: > 0 } u && u[0] != '{' ? "_" + (u == "s" ? "seconds" : u) : "";
        return instrument switch
        {
            Counter<long> or Counter<int> or Counter<double> => new MetricFamily(name + unit + "_total", help, MetricKind.Counter, 1, []),
            Histogram<long> or Histogram<int> or Histogram<double> => new MetricFamily(name + unit, help, MetricKind.Summary, 1, Basic),
            UpDownCounter<long> or UpDownCounter<int> or UpDownCounter<double> => new MetricFamily(name + unit, help, MetricKind.UpDown, 1, []),
            _ when instrument.GetType().Name.StartsWith("ObservableCounter", StringComparison.Ordinal) => new MetricFamily(name + unit + "_total", help, MetricKind.ObservedCounter, 1, []),
            _ => new MetricFamily(name + unit, help, MetricKind.Gauge, 1, []),
        };
    }
}
