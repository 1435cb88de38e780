using System.Globalization;

namespace Zk.Bench.Reporting;

/// <summary>
/// The <c>--name value</c> options of one subcommand. Unknown names are an error rather than silently ignored,
/// so a typo never produces a run with defaults that looks like the one asked for.
/// </summary>
internal sealed class OptionReader
{
    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);

    public OptionReader(IReadOnlyList<string> args)
    {
        for (var i = 0; i < args.Count; i++)
        {
            var name = args[i];
            if (!name.StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Count)
            {
                throw new ArgumentException($"Expected '--name value' pairs, got '{name}'.");
            }

            _values[name[2..]] = args[++i];
        }
    }

    public int Int(string name, int fallback, int min, int max)
    {
        var value = _values.TryGetValue(name, out var text) ? int.Parse(text, CultureInfo.InvariantCulture) : fallback;
        _used.Add(name);
        return value >= min && value <= max ? value : throw new ArgumentException($"--{name} must be in [{min}, {max}], got {value}.");
    }

    public string Choice(string name, string fallback, params string[] allowed)
    {
        var value = _values.GetValueOrDefault(name, fallback);
        _used.Add(name);
        return Array.IndexOf(allowed, value) >= 0 ? value : throw new ArgumentException($"--{name} must be one of {string.Join(", ", allowed)}, got '{value}'.");
    }

    public bool Bool(string name, bool fallback)
    {
        _used.Add(name);
        if (!_values.TryGetValue(name, out var text))
        {
            return fallback;
        }

        return text switch
        {
            "true" or "yes" => true,
            "false" or "no" => false,
            _ => throw new ArgumentException($"--{name} must be true or false, got '{text}'."),
        };
    }

    /// <summary>A free-form value (a path, an address), or <paramref name="fallback"/> when absent.</summary>
    public string? Text(string name, string? fallback = null)
    {
        _used.Add(name);
        return _values.GetValueOrDefault(name, fallback!);
    }

    public bool Has(string name) => _values.ContainsKey(name);

    /// <summary>Call after reading every option: fails on names nothing asked for.</summary>
    public void RejectUnknown()
    {
        foreach (var name in _values.Keys)
        {
            if (!_used.Contains(name))
            {
                throw new ArgumentException($"Unknown option --{name}.");
            }
        }
    }
}
