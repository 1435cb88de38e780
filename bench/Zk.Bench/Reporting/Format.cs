using System.Diagnostics;
using System.Globalization;

namespace Zk.Bench.Reporting;

/// <summary>Number formats shared by the reports: invariant culture, units in the text.</summary>
internal static class Format
{
    public static string Count(double value) => value.ToString("N0", CultureInfo.InvariantCulture);

    public static string Fixed(double value, int decimals) => value.ToString("F" + decimals.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);

    /// <summary>Stopwatch ticks as microseconds with two decimals: an inline read takes a tenth of one.</summary>
    public static string Micros(long ticks, int decimals = 2) => Fixed(ticks * 1_000_000.0 / Stopwatch.Frequency, decimals);

    public static string Bytes(double bytes) => bytes >= 1 << 20 ? Fixed(bytes / (1 << 20), 1) + " MiB" : Count(bytes) + " B";
}
