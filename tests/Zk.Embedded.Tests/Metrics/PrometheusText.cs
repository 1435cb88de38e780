using System.Globalization;
using System.Text.RegularExpressions;

namespace Zk.Embedded.Tests.Metrics;

/// <summary>
/// A strict reader of Prometheus text format 0.0.4, as a scraper reads it: every line a HELP, a TYPE or a sample;
/// each family's HELP and TYPE once, before its samples; sample names the family's (a summary's also _count and
/// _sum); label values quoted and escaped; values parse as floats. Fails the test naming the line otherwise.
/// </summary>
internal sealed partial class PrometheusText
{
    public sealed record Family(string Name, string Type, string Help, List<(string Name, string Labels, double Value)> Samples);

    public Dictionary<string, Family> Families { get; } = new(StringComparer.Ordinal);

    [GeneratedRegex("""^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\\\|\\"|\\n)*",?)*)\})? (?<value>\S+)$""")]
    private static partial Regex SampleLine();

    public static PrometheusText Parse(string text)
    {
        var parsed = new PrometheusText();
        Assert.True(text.EndsWith('\n'), "the exposition must end with a line feed");
        Family? current = null;
        string? help = null;
        foreach (var line in text.TrimEnd('\n').Split('\n'))
        {
            if (line.StartsWith("# HELP ", StringComparison.Ordinal))
            {
                var rest = line[7..];
                help = rest;
                continue;
            }

            if (line.StartsWith("# TYPE ", StringComparison.Ordinal))
            {
                var parts = line[7..].Split(' ');
                Assert.True(parts.Length == 2 && parts[1] is "counter" or "gauge" or "summary" or "histogram" or "untyped", $"bad TYPE line: {line}");
                Assert.True(help is not null && help.StartsWith(parts[0] + " ", StringComparison.Ordinal), $"TYPE {parts[0]} without its HELP line just before it");
                Assert.False(parsed.Families.ContainsKey(parts[0]), $"family {parts[0]} appears twice");
                current = new Family(parts[0], parts[1], help![(parts[0].Length + 1)..], []);
                parsed.Families.Add(current.Name, current);
                help = null;
                continue;
            }

            var match = SampleLine().Match(line);
            Assert.True(match.Success, $"not a sample line: '{line}'");
            var name = match.Groups["name"].Value;
            Assert.True(current is not null && (name == current.Name || (current.Type == "summary" && (name == current.Name + "_count" || name == current.Name + "_sum"))),
                $"sample {name} outside its family (current: {current?.Name})");
            var value = match.Groups["value"].Value;
            Assert.True(value is "NaN" or "+Inf" or "-Inf" || double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out _), $"bad value in '{line}'");
            current!.Samples.Add((name, match.Groups["labels"].Value, value switch
            {
                "NaN" => double.NaN,
                "+Inf" => double.PositiveInfinity,
                "-Inf" => double.NegativeInfinity,
                _ => double.Parse(value, CultureInfo.InvariantCulture),
            }));
        }

        return parsed;
    }

    public Family Get(string name, string type)
    {
        Assert.True(Families.TryGetValue(name, out var family), $"expected family {name}; have [{string.Join(", ", Families.Keys)}]");
        Assert.True(family!.Type == type, $"expected {name} to be a {type}, it is a {family.Type}");
        return family;
    }

    /// <summary>The one sample named <paramref name="sample"/> with exactly these labels.</summary>
    public double Value(string family, string type, string sample, string labels = "")
    {
        var found = Get(family, type).Samples.Where(s => s.Name == sample && s.Labels == labels).ToList();
        Assert.True(found.Count == 1, $"expected one sample {sample}{{{labels}}} in {family}, found {found.Count}");
        return found[0].Value;
    }

    public static async Task<PrometheusText> ScrapeAsync(System.Net.IPEndPoint endPoint)
    {
        using var http = new HttpClient();
        var host = endPoint.Address.Equals(System.Net.IPAddress.Any) ? "127.0.0.1" : endPoint.Address.ToString();
        using var response = await http.GetAsync(new Uri($"http://{host}:{endPoint.Port}/metrics"));
        Assert.True(response.IsSuccessStatusCode, $"GET /metrics answered {(int)response.StatusCode}");
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", response.Content.Headers.ContentType?.ToString());
        return Parse(await response.Content.ReadAsStringAsync());
    }
}
