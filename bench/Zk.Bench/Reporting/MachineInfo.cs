using System.Runtime;
using System.Runtime.InteropServices;

namespace Zk.Bench.Reporting;

/// <summary>
/// The conditions of a run, printed above every result: the numbers mean little without the core count, the
/// runtime and the GC mode, and on a shared machine the load average says whether others were busy.
/// </summary>
internal static class MachineInfo
{
    public static string Describe()
    {
        var cpu = ReadFirst("/proc/cpuinfo", "model name") ?? RuntimeInformation.ProcessArchitecture.ToString();
        var load = File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ')[..3]) : "n/a";
        var gc = GCSettings.IsServerGC ? "server" : "workstation";
        var concurrent = GCSettings.LatencyMode == GCLatencyMode.Batch ? "non-concurrent" : "concurrent";
        return $"> {Environment.ProcessorCount} cores, {cpu}, {RuntimeInformation.FrameworkDescription}, {RuntimeInformation.OSDescription}, " +
            $"{gc} GC ({concurrent}), load average {load}, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC";
    }

    private static string? ReadFirst(string file, string key)
    {
        if (!File.Exists(file))
        {
            return null;
        }

        foreach (var line in File.ReadLines(file))
        {
            if (line.StartsWith(key, StringComparison.Ordinal))
            {
                return line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim();
            }
        }

        return null;
    }
}
