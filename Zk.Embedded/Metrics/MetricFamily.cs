using System.Collections.Concurrent;
using System.Globalization;
using System.Text;

namespace Zk.Embedded.Metrics;

/// <summary>How one instrument of the <c>Zk.Embedded</c> meter appears in Prometheus text.</summary>
internal enum MetricKind
{
    Counter,
    Gauge,
    Summary,

    /// <summary>An up-down counter: measurements add, shown as a gauge.</summary>
    UpDown,

    /// <summary>An observable counter: each observation is the total so far, shown as a counter.</summary>
    ObservedCounter,
}

/// <summary>
/// One Prometheus metric family: its name, help, type, and one series per label set. Counters add, gauges keep the
/// last observation, summaries keep a count, a sum and the latest observations for their quantiles.
/// </summary>
internal sealed class MetricFamily(string name, string help, MetricKind kind, double scale, double[] quantiles, bool shownEmpty = false)
{
    /// <summary>Observations a summary keeps for its quantiles: enough for a stable median, bounded memory.</summary>
    private const int Window = 1024;

    private readonly ConcurrentDictionary<string, Series> _series = new(StringComparer.Ordinal);

    public string Name { get; } = name;

    public void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var series = _series.GetOrAdd(Labels(tags), static _ => new Series());
        value *= scale;
        lock (series)
        {
            switch (kind)
            {
                case MetricKind.Counter or MetricKind.UpDown:
                    series.Sum += value;
                    break;
                case MetricKind.Gauge or MetricKind.ObservedCounter:
                    series.Sum = value;
                    break;
                default:
                    series.Count++;
                    series.Sum += value;
                    series.Window ??= new double[Window];
                    series.Window[(int)((series.Count - 1) % Window)] = value;
                    break;
            }
        }
    }

    private string TypeName => kind switch
    {
        MetricKind.Counter or MetricKind.ObservedCounter => "counter",
        MetricKind.Summary => "summary",
        _ => "gauge",
    };

    public void Write(StringBuilder text)
    {
        if (_series.IsEmpty && !shownEmpty)
        {
            return;
        }

        text.Append("# HELP ").Append(Name).Append(' ').Append(help).Append('\n');
        text.Append("# TYPE ").Append(Name).Append(' ').Append(TypeName).Append('\n');
        if (_series.IsEmpty)
        {
            // As ZooKeeper's metrics before their first observation: 0, and a summary's quantiles NaN. A counter shown
            // from the start lets rate() see its first increase.
            if (kind == MetricKind.Summary)
            {
                WriteSummary(text, string.Empty, new Series());
            }
            else
            {
                Sample(text, Name, string.Empty, null, 0);
            }

            return;
        }

        foreach (var (labels, series) in _series)
        {
            lock (series)
            {
                if (kind == MetricKind.Summary)
                {
                    WriteSummary(text, labels, series);
                }
                else
                {
                    Sample(text, Name, labels, null, series.Sum);
                }
            }
        }
    }

    private void WriteSummary(StringBuilder text, string labels, Series series)
    {
        // The ring fills from slot 0, so its first min(count, Window) slots are the latest observations.
        var sorted = series.Window is null ? [] : series.Window.AsSpan(0, (int)Math.Min(series.Count, Window)).ToArray();
        Array.Sort(sorted);
        foreach (var q in quantiles)
        {
            // Nearest rank over the latest observations, where ZooKeeper's summaries use a sliding time window.
            var value = sorted.Length == 0 ? double.NaN : sorted[Math.Max(0, (int)Math.Ceiling(q * sorted.Length) - 1)];
            Sample(text, Name, labels, q.ToString(CultureInfo.InvariantCulture), value);
        }

        Sample(text, Name + "_count", labels, null, series.Count);
        Sample(text, Name + "_sum", labels, null, series.Sum);
    }

    private static void Sample(StringBuilder text, string name, string labels, string? quantile, double value)
    {
        text.Append(name);
        if (labels.Length > 0 || quantile is not null)
        {
            text.Append('{').Append(labels);
            if (quantile is not null)
            {
                text.Append(labels.Length > 0 ? "," : "").Append("quantile=\"").Append(quantile).Append('"');
            }

            text.Append('}');
        }

        text.Append(' ').Append(Format(value)).Append('\n');
    }

    private static string Format(double value) => value switch
    {
        double.PositiveInfinity => "+Inf",
        double.NegativeInfinity => "-Inf",
        _ when double.IsNaN(value) => "NaN",
        _ => value.ToString("R", CultureInfo.InvariantCulture),
    };

    /// <summary>Prometheus label text for the tags, in the order given: <c>op="create"</c>.</summary>
    private static string Labels(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (tags.Length == 0)
        {
            return string.Empty;
        }

        var text = new StringBuilder();
        foreach (var (key, value) in tags)
        {
            text.Append(text.Length > 0 ? "," : "").Append(key.Replace('.', '_')).Append("=\"");
            foreach (var c in Convert.ToString(value, CultureInfo.InvariantCulture) ?? "")
            {
                // The text format escapes exactly these three in label values.
                text.Append(c switch { '\\' => "\\\\", '"' => "\\\"", '\n' => "\\n", _ => c.ToString() });
            }

            text.Append('"');
        }

        return text.ToString();
    }

    private sealed class Series
    {
        public long Count;
        public double Sum;
        public double[]? Window;
    }
}
