using System.Globalization;
using System.Text;

namespace Zk.Bench.EnsembleWire;

/// <summary>An SVG line chart of throughput over time across a leader kill: one line per run, colour per system.</summary>
internal static class TimelineChart
{
    private const int Width = 900, Height = 420, Left = 70, Right = 20, Top = 40, Bottom = 50;
    private static readonly string[] Colours = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e"];

    /// <param name="runs">each run's system and ops/s per bucket</param>
    /// <param name="bucketSeconds">bucket width</param>
    /// <param name="killAtSeconds">where the kill falls on the time axis (from the first bucket)</param>
    public static string Render(IReadOnlyList<KillResult> runs, double bucketSeconds, double killAtSeconds, string title)
    {
        var systems = runs.Select(r => r.System).Distinct().ToList();
        var buckets = runs.Max(r => r.OpsPerSecond.Length);
        var top = Math.Max(1, runs.Max(r => r.OpsPerSecond.Max())) * 1.1;
        double X(double seconds) => Left + (seconds / (buckets * bucketSeconds)) * (Width - Left - Right);
        double Y(double ops) => Height - Bottom - (ops / top) * (Height - Top - Bottom);
        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"""<svg xmlns="http://www.w3.org/2000/svg" width="{Width}" height="{Height}" font-family="sans-serif" font-size="12">""").Append('\n');
        svg.Append(CultureInfo.InvariantCulture, $"""<rect width="{Width}" height="{Height}" fill="white"/><text x="{Left}" y="22" font-size="14">{title}</text>""").Append('\n');
        for (var i = 0; i <= 4; i++)
        {
            var ops = top / 4 * i;
            svg.Append(CultureInfo.InvariantCulture, $"""<line x1="{Left}" x2="{Width - Right}" y1="{Y(ops):F1}" y2="{Y(ops):F1}" stroke="#ddd"/><text x="{Left - 6}" y="{Y(ops) + 4:F1}" text-anchor="end">{ops:N0}</text>""").Append('\n');
        }

        for (var s = 0; s <= (int)(buckets * bucketSeconds); s++)
            svg.Append(CultureInfo.InvariantCulture, $"""<text x="{X(s):F1}" y="{Height - Bottom + 18}" text-anchor="middle">{s - killAtSeconds:0}</text>""").Append('\n');
        svg.Append(CultureInfo.InvariantCulture, $"""<text x="{(Left + Width - Right) / 2}" y="{Height - 10}" text-anchor="middle">seconds from the leader's SIGKILL (sets/s per {bucketSeconds * 1000:0} ms bucket)</text>""").Append('\n');
        svg.Append(CultureInfo.InvariantCulture, $"""<line x1="{X(killAtSeconds):F1}" x2="{X(killAtSeconds):F1}" y1="{Top}" y2="{Height - Bottom}" stroke="black" stroke-dasharray="4 3"/>""").Append('\n');
        foreach (var run in runs)
        {
            var colour = Colours[systems.IndexOf(run.System) % Colours.Length];
            var points = string.Join(' ', run.OpsPerSecond.Select((ops, i) => string.Create(CultureInfo.InvariantCulture, $"{X((i + 0.5) * bucketSeconds):F1},{Y(ops):F1}")));
            svg.Append(CultureInfo.InvariantCulture, $"""<polyline fill="none" stroke="{colour}" stroke-width="1.5" stroke-opacity="0.8" points="{points}"/>""").Append('\n');
        }

        for (var i = 0; i < systems.Count; i++)
            svg.Append(CultureInfo.InvariantCulture, $"""<rect x="{Width - 260}" y="{Top + 8 + i * 18}" width="12" height="12" fill="{Colours[i % Colours.Length]}"/><text x="{Width - 242}" y="{Top + 18 + i * 18}">{systems[i]}</text>""").Append('\n');
        svg.Append("</svg>\n");
        return svg.ToString();
    }
}
