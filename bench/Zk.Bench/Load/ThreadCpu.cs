using System.Globalization;
using Zk.Bench.Reporting;

namespace Zk.Bench.Load;

/// <summary>
/// CPU time of this process's threads grouped by thread name, from /proc/self/task/*/stat: a profile without a
/// profiler. The write pipeline runs on its own long-running thread (".NET Long Running Task"), session
/// continuations and outbox deliveries on the thread pool (".NET TP Worker"), background GC on ".NET BGC", so the
/// split shows which side of the pipeline hand-off a write's time is spent on.
/// </summary>
internal static class ThreadCpu
{
    /// <summary>USER_HZ, the unit of utime and stime.</summary>
    private const double TicksPerSecond = 100;

    public static Dictionary<string, double> Sample()
    {
        var seconds = new Dictionary<string, double>(StringComparer.Ordinal);
        if (!Directory.Exists("/proc/self/task"))
        {
            return seconds;
        }

        foreach (var task in Directory.EnumerateDirectories("/proc/self/task"))
        {
            string stat;
            try
            {
                stat = File.ReadAllText(Path.Combine(task, "stat"));
            }
            catch (IOException)
            {
                continue; // the thread ended between listing and reading
            }

            // "tid (comm) state ... utime stime": comm may hold spaces, so split after its closing parenthesis.
            var open = stat.IndexOf('(', StringComparison.Ordinal);
            var close = stat.LastIndexOf(')');
            var name = stat[(open + 1)..close];
            var fields = stat[(close + 2)..].Split(' ');
            var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            seconds[name] = seconds.GetValueOrDefault(name) + (ticks / TicksPerSecond);
        }

        return seconds;
    }

    /// <summary>CPU per op by thread group between two samples; threads that ended meanwhile are missing from it.</summary>
    public static string Table(Dictionary<string, double> before, Dictionary<string, double> after, long ops)
    {
        var table = new MarkdownTable("thread (name as the kernel has it)", "CPU s", "CPU µs/op");
        var rows = new List<(string Name, double Seconds)>();
        foreach (var (name, total) in after)
        {
            var spent = total - before.GetValueOrDefault(name);
            if (spent > 0.005)
            {
                rows.Add((name, spent));
            }
        }

        rows.Sort((a, b) => b.Seconds.CompareTo(a.Seconds));
        foreach (var (name, spent) in rows)
        {
            table.Add(name, Format.Fixed(spent, 2), Format.Fixed(spent * 1e6 / Math.Max(1, ops), 3));
        }

        return table.ToString();
    }
}
