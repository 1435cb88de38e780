using System.Diagnostics;
using System.Globalization;
using System.Text;
using Zk.Bench.Load;
using Zk.Bench.Wire;

namespace Zk.Bench.Reporting;

/// <summary>
/// The wire comparison as one hand-written SVG, so the docs get a picture without a charting package: throughput
/// bars on top, then one latency-by-percentile panel per chosen shape. Both panels share one visual code: colour
/// is the workload, style is the server (the first one seen solid, the others dashed and, for bars, pale).
/// ScottPlot 5.1 was tried instead (issue 18): its SVG goes through Skia's SVG canvas, which drops dash patterns
/// ("Unsupported path effect"), and dashes are how this chart tells the servers apart; the docs keep SVG (text,
/// diffable, scalable), so the hand-written writer stays.
/// </summary>
internal static class SvgChart
{
    private const double Width = 900;
    private const double PanelHeight = 420;
    private const double PlotTop = 90;
    private const double PlotBottom = PanelHeight - 50;

    private static readonly string[] WorkloadColours = ["#1f77b4", "#d95f02", "#2ca02c", "#7570b3", "#e7298a"];
    private static readonly string[] ServerDashes = ["", "7 4", "2 3"];

    /// <summary>The SVG document for <paramref name="results"/>, with a latency panel for each of <paramref name="latencyShapes"/> that was measured.</summary>
    public static string Render(IReadOnlyList<WireResult> results, IReadOnlyList<(int Connections, int Inflight)> latencyShapes)
    {
        var servers = Distinct(results, r => r.Server);
        var workloads = Distinct(results, r => r.Workload);
        var shapes = Distinct(results, r => (r.Connections, r.Inflight));
        var latencyPanels = latencyShapes.Where(shapes.Contains).Distinct().ToList();

        var svg = new Canvas(Width, PanelHeight * (1 + latencyPanels.Count));
        DrawThroughput(svg, results, servers, workloads, shapes);
        for (var i = 0; i < latencyPanels.Count; i++)
        {
            svg.Offset = PanelHeight * (i + 1);
            svg.Line(0, 0, Width, 0, "#bbbbbb");
            DrawLatency(svg, results, servers, workloads, latencyPanels[i]);
        }

        return svg.ToString();
    }

    /// <summary>
    /// One sub-plot per shape, each with its own y axis: a 1 × 1 run does a tenth of an 8 × 64 one, and on a shared
    /// axis its bars would be slivers.
    /// </summary>
    private static void DrawThroughput(
        Canvas svg, IReadOnlyList<WireResult> results, List<string> servers, List<string> workloads, List<(int Connections, int Inflight)> shapes)
    {
        var runs = results.GroupBy(r => (r.Server, r.Workload, r.Connections, r.Inflight)).Max(g => g.Count());
        var how = runs == 1 ? "one run each" : "bar = mean of the runs, dots = each run";
        svg.Text(20, 26, $"Throughput, ops/s ({how}; higher is better)", 16, "start", "bold");
        Legend(svg, 20, 52, servers.Select((s, i) => (s, "#555555", i, true)));

        var slot = (Width - 20) / shapes.Count;
        for (var s = 0; s < shapes.Count; s++)
        {
            var (connections, inflight) = shapes[s];
            var left = 20 + (s * slot) + 55;
            var right = 20 + ((s + 1) * slot) - 15;
            var cells = results.Where(r => r.Connections == connections && r.Inflight == inflight).ToList();
            var top = YAxisLinear(svg, left, right, cells.Max(r => r.OpsPerSecond), "ops/s");
            svg.Text((left + right) / 2, PlotTop - 12, $"{connections} × {inflight} (connections × in flight)", 13, "middle", "bold");

            var group = (right - left) / workloads.Count;
            var bar = Math.Min(60, group * 0.75 / servers.Count);
            for (var w = 0; w < workloads.Count; w++)
            {
                var colour = WorkloadColours[w % WorkloadColours.Length];
                var start = left + (w * group) + ((group - (bar * servers.Count)) / 2);
                svg.Text(left + ((w + 0.5) * group), PlotBottom + 18, workloads[w], 13, "middle", "bold", colour);
                for (var k = 0; k < servers.Count; k++)
                {
                    var repeats = cells.Where(r => r.Workload == workloads[w] && r.Server == servers[k]).Select(r => r.OpsPerSecond).ToList();
                    if (repeats.Count == 0)
                    {
                        continue;
                    }

                    var mean = repeats.Average();
                    var x = start + (k * bar);
                    var y = PlotBottom - ((PlotBottom - PlotTop) * mean / top);
                    var tooltip = $"{servers[k]}, {workloads[w]}, {connections} × {inflight}: {Format.Count(mean)} ops/s";
                    svg.Bar(x + 2, y, bar - 4, PlotBottom - y, colour, k, tooltip);
                    var highest = PlotBottom - ((PlotBottom - PlotTop) * repeats.Max() / top);
                    svg.Text(x + (bar / 2), highest - 5, Compact(mean), 11, "middle"); // above the highest dot, not through it
                    if (repeats.Count > 1)
                    {
                        foreach (var value in repeats)
                        {
                            svg.Dot(x + (bar / 2), PlotBottom - ((PlotBottom - PlotTop) * value / top));
                        }
                    }
                }
            }
        }
    }

    /// <summary>
    /// Latency against percentile on HdrHistogram's "nines" axis (x = -log10(1 - p)), so the tail gets as much room
    /// as the median; y is logarithmic because a tail is often 100× the median. Repeats are pooled into one
    /// histogram. Each line stops where its sample count runs out (at 1/count of the samples left above it).
    /// </summary>
    private static void DrawLatency(
        Canvas svg, IReadOnlyList<WireResult> results, List<string> servers, List<string> workloads, (int Connections, int Inflight) shape)
    {
        var lines = new List<(int Server, int Workload, LatencyHistogram Histogram)>();
        for (var k = 0; k < servers.Count; k++)
        {
            for (var w = 0; w < workloads.Count; w++)
            {
                var pooled = new LatencyHistogram();
                foreach (var r in results.Where(r => r.Server == servers[k] && r.Workload == workloads[w] && (r.Connections, r.Inflight) == shape))
                {
                    pooled.Add(r.Latencies);
                }

                if (pooled.Count > 0)
                {
                    lines.Add((k, w, pooled));
                }
            }
        }

        if (lines.Count == 0)
        {
            return;
        }

        svg.Text(20, 26, $"Latency by percentile, {shape.Connections} × {shape.Inflight} (µs, log scale; lower is better)", 16, "start", "bold");
        var legend = servers.Select((s, i) => (s, "#555555", i, false))
            .Concat(workloads.Select((w, i) => (w, WorkloadColours[i % WorkloadColours.Length], 0, false)));
        Legend(svg, 20, 52, legend);

        const double left = 80;
        const double right = Width - 50; // room for the last percentile label
        var nines = Math.Clamp(Math.Ceiling(lines.Max(l => Math.Log10(l.Histogram.Count))), 2, 6);
        double X(double n) => left + ((right - left) * n / nines);

        var low = LogFloor(lines.Min(l => Micros(l.Histogram.ValueAtPercentile(0))));
        var high = LogCeiling(lines.Max(l => Micros(l.Histogram.Max)));
        double Y(double micros) => PlotBottom - ((PlotBottom - PlotTop) * Math.Log10(Math.Max(micros, low) / low) / Math.Log10(high / low));

        foreach (var tick in LogTicks(low, high))
        {
            svg.Line(left, Y(tick), right, Y(tick), "#e6e6e6");
            svg.Text(left - 6, Y(tick) + 4, Format.Count(tick), 11, "end");
        }

        svg.Text(22, (PlotTop + PlotBottom) / 2, "latency, µs", 12, "middle", rotate: true);
        svg.Line(left, PlotTop, left, PlotBottom, "#333333");
        svg.Line(left, PlotBottom, right, PlotBottom, "#333333");
        for (var n = 0; n <= nines; n++)
        {
            svg.Line(X(n), PlotBottom, X(n), PlotTop, "#e6e6e6");
            svg.Text(X(n), PlotBottom + 16, NinesLabel(n), 11, "middle");
        }

        // The median is what the table quotes first, so it gets a tick of its own.
        svg.Line(X(Math.Log10(2)), PlotBottom, X(Math.Log10(2)), PlotTop, "#f2f2f2");
        svg.Text(X(Math.Log10(2)), PlotBottom + 16, "50%", 11, "middle");
        svg.Text((left + right) / 2, PlotBottom + 36, "percentile (each step right is 10× rarer)", 12, "middle");

        foreach (var (server, workload, histogram) in lines)
        {
            var end = Math.Min(nines, Math.Log10(histogram.Count));
            var points = new List<(double, double)>();
            for (var n = 0.0; n < end; n += 0.02)
            {
                points.Add((X(n), Y(Micros(histogram.ValueAtPercentile(100 * (1 - Math.Pow(10, -n)))))));
            }

            points.Add((X(end), Y(Micros(histogram.ValueAtPercentile(100 * (1 - Math.Pow(10, -end)))))));
            svg.Polyline(points, WorkloadColours[workload % WorkloadColours.Length], server, $"{servers[server]}, {workloads[workload]}");
        }
    }

    /// <summary>Grid, ticks and label of a linear y axis from 0; returns the axis top, a round number at or above <paramref name="max"/>.</summary>
    private static double YAxisLinear(Canvas svg, double left, double right, double max, string label)
    {
        var step = NiceStep(Math.Max(max, 1) / 5);
        var top = Math.Ceiling(Math.Max(max, 1) * 1.08 / step) * step; // headroom for the value labels
        for (var tick = 0.0; tick <= top + (step / 2); tick += step)
        {
            var y = PlotBottom - ((PlotBottom - PlotTop) * tick / top);
            svg.Line(left, y, right, y, tick == 0 ? "#333333" : "#e6e6e6");
            svg.Text(left - 6, y + 4, Compact(tick), 11, "end");
        }

        svg.Line(left, PlotTop, left, PlotBottom, "#333333");
        svg.Text(left - 42, (PlotTop + PlotBottom) / 2, label, 12, "middle", rotate: true);
        return top;
    }

    /// <summary>Swatches and names in one row; widths are estimated, as SVG cannot measure text before drawing it.</summary>
    private static void Legend(Canvas svg, double x, double y, IEnumerable<(string Name, string Colour, int Style, bool Bar)> entries)
    {
        foreach (var (name, colour, style, bar) in entries)
        {
            if (bar)
            {
                svg.Bar(x, y - 10, 22, 12, colour, style, name);
            }
            else
            {
                svg.Polyline([(x, y - 4), (x + 26, y - 4)], colour, style, name);
            }

            svg.Text(x + 32, y, name, 12, "start");
            x += 32 + (name.Length * 7) + 24;
        }
    }

    private static List<T> Distinct<T>(IReadOnlyList<WireResult> results, Func<WireResult, T> key) => results.Select(key).Distinct().ToList();

    private static double Micros(long ticks) => ticks * 1_000_000.0 / Stopwatch.Frequency;

    private static double NiceStep(double rough)
    {
        var magnitude = Math.Pow(10, Math.Floor(Math.Log10(rough)));
        var fraction = rough / magnitude;
        return magnitude * (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10);
    }

    /// <summary>The largest 1, 2 or 5 × 10^k at or below <paramref name="value"/>: log axes read best on those.</summary>
    private static double LogFloor(double value)
    {
        var magnitude = Math.Pow(10, Math.Floor(Math.Log10(Math.Max(value, 0.01))));
        return magnitude * (value >= 5 * magnitude ? 5 : value >= 2 * magnitude ? 2 : 1);
    }

    private static double LogCeiling(double value)
    {
        var magnitude = Math.Pow(10, Math.Floor(Math.Log10(Math.Max(value, 0.01))));
        return magnitude * (value <= magnitude ? 1 : value <= 2 * magnitude ? 2 : value <= 5 * magnitude ? 5 : 10);
    }

    /// <summary>1-2-5 ticks over a few decades; only the powers of ten over many, so labels do not collide.</summary>
    private static IEnumerable<double> LogTicks(double low, double high)
    {
        var steps = Math.Log10(high / low) > 3 ? new[] { 1.0 } : [1.0, 2, 5];
        for (var magnitude = Math.Pow(10, Math.Floor(Math.Log10(low))); magnitude <= high; magnitude *= 10)
        {
            foreach (var step in steps)
            {
                var tick = magnitude * step;
                if (tick >= low * 0.999 && tick <= high * 1.001)
                {
                    yield return tick;
                }
            }
        }
    }

    private static string NinesLabel(int nines) =>
        (100 * (1 - Math.Pow(10, -nines))).ToString(nines <= 2 ? "0" : "0." + new string('#', nines - 2), CultureInfo.InvariantCulture) + "%";

    /// <summary>Three significant digits with k or M: bar labels must fit over a bar 30 px wide.</summary>
    private static string Compact(double value)
    {
        var (scaled, suffix) = value >= 1e6 ? (value / 1e6, "M") : value >= 1e3 ? (value / 1e3, "k") : (value, "");
        var format = scaled >= 100 ? "0" : scaled >= 10 ? "0.#" : "0.##";
        return scaled.ToString(format, CultureInfo.InvariantCulture) + suffix;
    }

    /// <summary>A few SVG primitives over a string builder: every number invariant, every text escaped.</summary>
    private sealed class Canvas
    {
        private readonly StringBuilder _svg = new();

        public Canvas(double width, double height)
        {
            _svg.Append(CultureInfo.InvariantCulture, $"""<svg xmlns="http://www.w3.org/2000/svg" width="{N(width)}" height="{N(height)}" viewBox="0 0 {N(width)} {N(height)}" font-family="sans-serif">""");
            _svg.Append('\n').Append("""<rect width="100%" height="100%" fill="white"/>""").Append('\n');
        }

        /// <summary>Added to every y: the panels are drawn one below the other with the same code.</summary>
        public double Offset { get; set; }

        public void Line(double x1, double y1, double x2, double y2, string colour) =>
            _svg.Append(CultureInfo.InvariantCulture, $"""<line x1="{N(x1)}" y1="{N(y1 + Offset)}" x2="{N(x2)}" y2="{N(y2 + Offset)}" stroke="{colour}" stroke-width="1"/>""").Append('\n');

        public void Text(double x, double y, string text, double size, string anchor, string weight = "normal", string colour = "#222222", bool rotate = false)
        {
            var turn = rotate ? $""" transform="rotate(-90 {N(x)} {N(y + Offset)})" """ : " ";
            _svg.Append(CultureInfo.InvariantCulture, $"""<text x="{N(x)}" y="{N(y + Offset)}" font-size="{N(size)}" text-anchor="{anchor}" font-weight="{weight}" fill="{colour}"{turn}>{Escape(text)}</text>""").Append('\n');
        }

        /// <summary>Style 0 is a solid bar; the others pale with a dashed outline, the bar form of a dashed line.</summary>
        public void Bar(double x, double y, double width, double height, string colour, int style, string title)
        {
            var look = style == 0 ? $"""fill="{colour}" """ : $"""fill="{colour}" fill-opacity="0.3" stroke="{colour}" stroke-width="1.5" stroke-dasharray="{Dash(style)}" """;
            _svg.Append(CultureInfo.InvariantCulture, $"""<rect x="{N(x)}" y="{N(y + Offset)}" width="{N(Math.Max(width, 1))}" height="{N(Math.Max(height, 0))}" {look}><title>{Escape(title)}</title></rect>""").Append('\n');
        }

        public void Dot(double x, double y) =>
            _svg.Append(CultureInfo.InvariantCulture, $"""<circle cx="{N(x)}" cy="{N(y + Offset)}" r="2.5" fill="#222222" stroke="white" stroke-width="0.8"/>""").Append('\n');

        public void Polyline(IReadOnlyList<(double X, double Y)> points, string colour, int style, string title)
        {
            _svg.Append("<polyline points=\"");
            foreach (var (x, y) in points)
            {
                _svg.Append(CultureInfo.InvariantCulture, $"{N(x)},{N(y + Offset)} ");
            }

            var dash = style == 0 ? "" : $" stroke-dasharray=\"{Dash(style)}\"";
            _svg.Append("\" ").Append(CultureInfo.InvariantCulture, $"""fill="none" stroke="{colour}" stroke-width="2"{dash}><title>{Escape(title)}</title></polyline>""").Append('\n');
        }

        public override string ToString() => _svg + "</svg>\n";

        private static string Dash(int style) => ServerDashes[Math.Min(style, ServerDashes.Length - 1)];

        private static string N(double value) => Math.Round(value, 1).ToString("0.#", CultureInfo.InvariantCulture);

        private static string Escape(string text) =>
            text.Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal)
                .Replace(">", "&gt;", StringComparison.Ordinal).Replace("\"", "&quot;", StringComparison.Ordinal);
    }
}
