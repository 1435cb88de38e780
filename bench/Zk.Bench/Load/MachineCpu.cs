using System.Globalization;

namespace Zk.Bench.Load;

/// <summary>
/// Busy CPU time of the whole machine from /proc/stat (all cores, in seconds). Against this process's own CPU time it
/// tells how much other processes used during a run, which on a shared machine explains a slow run.
/// </summary>
internal static class MachineCpu
{
    /// <summary>The kernel's USER_HZ: /proc/stat counts in hundredths of a second on Linux.</summary>
    private const double TicksPerSecond = 100;

    /// <summary>Seconds of busy CPU since boot, or NaN where /proc/stat is missing.</summary>
    public static double BusySeconds()
    {
        if (!File.Exists("/proc/stat"))
        {
            return double.NaN;
        }

        using var reader = new StreamReader("/proc/stat");
        var fields = reader.ReadLine()!.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        double busy = 0;
        // cpu user nice system idle iowait irq softirq steal ...: all but idle (4th) and iowait (5th) are busy.
        for (var i = 1; i < fields.Length && i <= 8; i++)
        {
            if (i is not 4 and not 5)
            {
                busy += long.Parse(fields[i], CultureInfo.InvariantCulture);
            }
        }

        return busy / TicksPerSecond;
    }
}
