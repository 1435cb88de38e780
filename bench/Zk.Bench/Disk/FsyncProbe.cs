using System.Diagnostics;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Zk.Bench.Load;
using Zk.Bench.Reporting;

namespace Zk.Bench.Disk;

/// <summary>
/// The disk's floor for a durable write, measured on the directory the peer logs to: write one block and sync it, in
/// a loop. Two ways, because they cost differently on ext4:
/// <list type="bullet">
/// <item><b>append + fsync</b>: the file grows at every write and <c>FileStream.Flush(true)</c> (fsync) syncs the new
/// size too; this is what our txn log's WAL does (LiteDB appends pages, <c>DurableFile.Sync</c> is Flush(true)).</item>
/// <item><b>overwrite + fdatasync</b>: rewrite blocks of a preallocated file and fdatasync, so no metadata changes;
/// this is what Apache ZooKeeper does (its log files are preallocated 64 MB, <c>FileChannel.force(false)</c>).</item>
/// </list>
/// Bounded by time and by count; the file is deleted afterwards.
/// </summary>
internal static class FsyncProbe
{
    /// <summary>The preallocated file wraps around at this size, so the overwrite mode never grows it.</summary>
    private const long PreallocatedBytes = 64L << 20;

    private const int MaxSyncs = 1_000_000;

    public static FsyncResult Measure(string directory, bool append, double seconds, int blockBytes)
    {
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, append ? "fsync-probe-append.bin" : "fsync-probe-overwrite.bin");
        var block = new byte[blockBytes];
        Random.Shared.NextBytes(block);
        var latencies = new LatencyHistogram();
        try
        {
            using var file = new FileStream(path, FileMode.Create, FileAccess.ReadWrite, FileShare.None, bufferSize: 0, FileOptions.None);
            if (!append)
            {
                Preallocate(file);
            }

            var started = Stopwatch.GetTimestamp();
            var deadline = started + (long)(seconds * Stopwatch.Frequency);
            long offset = 0;
            for (var i = 0; i < MaxSyncs; i++)
            {
                var before = Stopwatch.GetTimestamp();
                if (before >= deadline)
                {
                    break;
                }

                if (append)
                {
                    file.Write(block);
                    file.Flush(flushToDisk: true);
                }
                else
                {
                    RandomAccess.Write(file.SafeFileHandle, block, offset);
                    offset = (offset + blockBytes) % PreallocatedBytes;
                    DataSync(file.SafeFileHandle);
                }

                latencies.Record(Stopwatch.GetTimestamp() - before);
            }

            var elapsed = Stopwatch.GetElapsedTime(started).TotalSeconds;
            return new FsyncResult(append ? "append + fsync" : "overwrite + fdatasync", blockBytes, latencies, elapsed);
        }
        finally
        {
            File.Delete(path);
        }
    }

    public static MarkdownTable NewTable() =>
        new("raw sync (same directory)", "block B", "syncs", "syncs/s", "p50 µs", "p90 µs", "p99 µs", "max µs");

    private static void Preallocate(FileStream file)
    {
        // Written (not just SetLength) so ext4 has real blocks, then synced once, as ZooKeeper's preallocation is.
        var chunk = new byte[1 << 20];
        for (long at = 0; at < PreallocatedBytes; at += chunk.Length)
        {
            RandomAccess.Write(file.SafeFileHandle, chunk, at);
        }

        file.Flush(flushToDisk: true);
    }

    private static void DataSync(SafeFileHandle handle)
    {
        if (!OperatingSystem.IsLinux())
        {
            RandomAccess.FlushToDisk(handle);
            return;
        }

        if (fdatasync(handle) != 0)
        {
            throw new IOException($"fdatasync failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    [DllImport("libc", EntryPoint = "fdatasync", SetLastError = true)]
#pragma warning disable SYSLIB1054 // a blittable one-argument call; LibraryImport would need unsafe blocks for nothing
    private static extern int fdatasync(SafeFileHandle fd);
#pragma warning restore SYSLIB1054
}

internal sealed record FsyncResult(string Mode, int BlockBytes, LatencyHistogram Latencies, double Seconds)
{
    public double SyncsPerSecond => Latencies.Count / Seconds;

    public void AddTo(MarkdownTable table) => table.Add(
        Mode,
        Format.Count(BlockBytes),
        Format.Count(Latencies.Count),
        Format.Count(SyncsPerSecond),
        Format.Micros(Latencies.ValueAtPercentile(50)),
        Format.Micros(Latencies.ValueAtPercentile(90)),
        Format.Micros(Latencies.ValueAtPercentile(99)),
        Format.Micros(Latencies.Max));
}
