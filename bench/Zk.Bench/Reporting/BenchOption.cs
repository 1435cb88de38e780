using System.CommandLine;

namespace Zk.Bench.Reporting;

/// <summary>
/// The bench's option kinds on System.CommandLine. Every number has a range and every choice a list, checked while
/// parsing, so a typo or an out-of-range value ends the run before it starts instead of measuring something else.
/// </summary>
internal static class BenchOption
{
    public static Option<int> Int(string name, int fallback, int min, int max, string description)
    {
        var option = new Option<int>(name) { Description = $"{description} ({min} to {max})", DefaultValueFactory = _ => fallback };
        option.Validators.Add(result =>
        {
            var value = result.GetValueOrDefault<int>();
            if (value < min || value > max)
                result.AddError($"{name} must be in [{min}, {max}], got {value}.");
        });
        return option;
    }

    public static Option<string> Choice(string name, string fallback, string description, params string[] allowed)
    {
        var option = new Option<string>(name) { Description = description, DefaultValueFactory = _ => fallback };
        option.AcceptOnlyFromAmong(allowed);
        return option;
    }

    /// <summary>A comma-separated list; <paramref name="parse"/> gives null for an item that is not <paramref name="expected"/>.</summary>
    public static Option<T[]> List<T>(string name, string fallback, string description, Func<string, T?> parse, string expected)
        where T : struct
    {
        return new Option<T[]>(name)
        {
            Description = $"{description}: {expected}, comma-separated",
            DefaultValueFactory = _ => Parse(fallback, parse) ?? throw new InvalidOperationException($"{name}'s default is not {expected}"),
            CustomParser = result =>
            {
                var text = result.Tokens.Count == 1 ? result.Tokens[0].Value : "";
                var items = Parse(text, parse);
                if (items is null)
                    result.AddError($"{name} takes {expected}, comma-separated; got '{text}'.");
                return items ?? [];
            },
        };
    }

    /// <summary>A comma-separated list of names, each one of <paramref name="allowed"/>.</summary>
    public static Option<string[]> Names(string name, string fallback, string description, params string[] allowed)
    {
        var option = new Option<string[]>(name)
        {
            Description = $"{description}: {string.Join(", ", allowed)}, comma-separated",
            DefaultValueFactory = _ => fallback.Split(','),
            CustomParser = result => result.Tokens.Count == 1 ? result.Tokens[0].Value.Split(',') : [],
        };
        option.Validators.Add(result =>
        {
            foreach (var item in result.GetValueOrDefault<string[]>() ?? [])
            {
                if (Array.IndexOf(allowed, item) < 0)
                    result.AddError($"{name} takes {string.Join(", ", allowed)}; got '{item}'.");
            }
        });
        return option;
    }

    private static T[]? Parse<T>(string text, Func<string, T?> parse)
        where T : struct
    {
        var parts = text.Split(',');
        var items = new T[parts.Length];
        for (var i = 0; i < parts.Length; i++)
        {
            if (parse(parts[i]) is not { } item)
                return null;
            items[i] = item;
        }

        return items;
    }

    /// <summary>A boolean written as <c>--name true|false</c> (or <c>--name</c> alone for true), as the scripts in bench/ do.</summary>
    public static Option<bool> Flag(string name, bool fallback, string description) =>
        new(name) { Description = description, DefaultValueFactory = _ => fallback };

    /// <summary>A free-form value (a path, an address), null when absent.</summary>
    public static Option<string?> Text(string name, string description) => new(name) { Description = description };

    /// <summary><c>--zk-dll</c>: our zk program, by default the repository's Release build of Zk.Server (found from this binary's location).</summary>
    public static Option<string> ZkDll() => new("--zk-dll")
    {
        Description = "our zk program (build it with: dotnet build -c Release Zk.Server)",
        DefaultValueFactory = _ => RepositoryZkDll(),
    };

    private static string RepositoryZkDll()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Embedded.sln")))
            directory = directory.Parent;
        return directory is null ? "zk.dll" : Path.Combine(directory.FullName, "Zk.Server", "bin", "Release", "net10.0", "zk.dll");
    }
}
