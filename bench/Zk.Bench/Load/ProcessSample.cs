using System.Diagnostics;

namespace Zk.Bench.Load;

/// <summary>Process-wide counters at one moment; the difference of two brackets a measured run.</summary>
internal readonly record struct ProcessSample(long Timestamp, TimeSpan Cpu, long AllocatedBytes, int Gen0, int Gen1, int Gen2, double MachineBusySeconds)
{
    public static ProcessSample Take()
    {
        using var process = Process.GetCurrentProcess();
        return new ProcessSample(
            Stopwatch.GetTimestamp(),
            process.TotalProcessorTime,
            GC.GetTotalAllocatedBytes(precise: false),
            GC.CollectionCount(0),
            GC.CollectionCount(1),
            GC.CollectionCount(2),
            MachineCpu.BusySeconds());
    }

    public ProcessSample Minus(ProcessSample earlier) => new(
        Timestamp - earlier.Timestamp,
        Cpu - earlier.Cpu,
        AllocatedBytes - earlier.AllocatedBytes,
        Gen0 - earlier.Gen0,
        Gen1 - earlier.Gen1,
        Gen2 - earlier.Gen2,
        MachineBusySeconds - earlier.MachineBusySeconds);
}
