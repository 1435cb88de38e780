using System.Globalization;
using System.Text;

namespace Zk.Bench.Reporting;

/// <summary>One line of a <see cref="LineChart"/>: its legend, its colour group and its points.</summary>
internal sealed record ChartLine(string Legend, int Colour, IReadOnlyList<(double X, double Y)> Points, bool Dashed = false);

/// <summary>
/// An SVG line chart (throughput over time across kills, or against the read fraction), hand-written for the reason
/// <see cref="SvgChart"/> gives: dashes tell the systems apart, and ScottPlot's SVG output drops them.
/// </summary>
internal static class LineChart
{
    private const int Width = 900, Height = 440, Left = 80, Right = 230, Top = 40, Bottom = 50;
    private static readonly string[] Colours = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"];

    /// <param name="marks">vertical dashed lines with a label (a kill, a restart)</param>
    public static string Render(string title, string xLabel, IReadOnlyList<ChartLine> lines, double xMin, double xMax, double xStep, IReadOnlyList<(double X, string Label)>? marks = null)
    {
        var top = Math.Max(1, lines.SelectMany(l => l.Points).Max(p => p.Y)) * 1.1;
        double X(double x) => Left + ((x - xMin) / (xMax - xMin)) * (Width - Left - Right);
        double Y(double y) => Height - Bottom - (y / top) * (Height - Top - Bottom);
        var svg = new StringBuilder();
        void Add(string text) => svg.Append(text).Append('\n');
        Add(string.Create(CultureInfo.InvariantCulture, $"""<svg xmlns="http://www.w3.org/2000/svg" width="{Width}" height="{Height}" font-family="sans-serif" font-size="12">"""));
        Add(string.Create(CultureInfo.InvariantCulture, $"""<rect width="{Width}" height="{Height}" fill="white"/><text x="{Left}" y="22" font-size="14">{title}</text>"""));
        for (var i = 0; i <= 4; i++)
        {
            var y = top / 4 * i;
            Add(string.Create(CultureInfo.InvariantCulture, $"""<line x1="{Left}" x2="{Width - Right}" y1="{Y(y):F1}" y2="{Y(y):F1}" stroke="#ddd"/><text x="{Left - 6}" y="{Y(y) + 4:F1}" text-anchor="end">{y:N0}</text>"""));
        }

        for (var x = xMin; x <= xMax + 1e-9; x += xStep)
            Add(string.Create(CultureInfo.InvariantCulture, $"""<text x="{X(x):F1}" y="{Height - Bottom + 18}" text-anchor="middle">{x:0.##}</text>"""));
        Add(string.Create(CultureInfo.InvariantCulture, $"""<text x="{(Left + Width - Right) / 2}" y="{Height - 10}" text-anchor="middle">{xLabel}</text>"""));
        foreach (var (x, label) in marks ?? [])
        {
            Add(string.Create(CultureInfo.InvariantCulture, $"""<line x1="{X(x):F1}" x2="{X(x):F1}" y1="{Top}" y2="{Height - Bottom}" stroke="black" stroke-dasharray="4 3"/>"""));
            Add(string.Create(CultureInfo.InvariantCulture, $"""<text x="{X(x) + 3:F1}" y="{Top + 12}">{label}</text>"""));
        }

        foreach (var line in lines)
        {
            var points = string.Join(' ', line.Points.Select(p => string.Create(CultureInfo.InvariantCulture, $"{X(p.X):F1},{Y(p.Y):F1}")));
            Add(string.Create(CultureInfo.InvariantCulture, $"""<polyline fill="none" stroke="{Colours[line.Colour % Colours.Length]}" stroke-width="1.5" stroke-opacity="0.85"{(line.Dashed ? " stroke-dasharray=\"6 3\"" : "")} points="{points}"/>"""));
        }

        var legends = lines.DistinctBy(l => l.Legend).ToList();
        for (var i = 0; i < legends.Count; i++)
        {
            var y = Top + 8 + i * 18;
            Add(string.Create(CultureInfo.InvariantCulture, $"""<line x1="{Width - Right + 12}" x2="{Width - Right + 32}" y1="{y + 6}" y2="{y + 6}" stroke="{Colours[legends[i].Colour % Colours.Length]}" stroke-width="2"{(legends[i].Dashed ? " stroke-dasharray=\"6 3\"" : "")}/><text x="{Width - Right + 38}" y="{y + 10}">{legends[i].Legend}</text>"""));
        }

        svg.Append("</svg>\n");
        return svg.ToString();
    }
}
