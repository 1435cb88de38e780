using System.Collections.Concurrent;
using System.CommandLine;
using System.Diagnostics;
using Zk.Bench.Reporting;
using Zk.Embedded.Api;
using Zk.Embedded.Txns;
using Zk.Embedded.Processing;
using Zk.Embedded.Storage;

namespace Zk.Bench.Disk;

/// <summary>
/// <c>log</c>: the txn log alone, no pipeline, no tree, no sessions: how many txns per second one writer thread gets
/// into <see cref="TxnLog"/> in batches of a given size, without syncing (LiteDB's own cost: the ceiling of every
/// durable write through the log) and with a sync per batch on a second thread (as the pipeline does), next to the
/// disk's raw overwrite + fdatasync of a batch's bytes in the same run (the physical limit of one sync per batch).
/// </summary>
internal static class LogCommand
{
    public static Command Define()
    {
        var dataDir = BenchOption.Text("--data-dir", "where the log goes (default: a temp dir, deleted afterwards)");
        var seconds = BenchOption.Int("--seconds", 5, 1, 120, "length of each row");
        var valueBytes = BenchOption.Int("--value-bytes", 1024, 0, 1 << 20, "bytes of each setData txn");
        var batches = BenchOption.List("--batches", "1,8,40,64,256", "txns per batch, one row pair each", ParseBatch, "batch sizes from 1 to 10000");
        var command = new Command("log", "the txn log alone (one writer thread, no sync and a sync per batch) next to raw fdatasync")
        {
            dataDir, seconds, valueBytes, batches,
        };
        command.SetAction(r => Run(r.GetValue(dataDir), r.GetValue(seconds), r.GetValue(valueBytes), r.GetValue(batches)!));
        return command;
    }

    private static void Run(string? given, int seconds, int valueBytes, int[] batches)
    {
        var directory = given ?? Path.Combine(Path.GetTempPath(), "zk-bench-log-" + Environment.ProcessId);

        Console.WriteLine(MachineInfo.Describe());
        Console.WriteLine($"> txn log in {Path.GetFullPath(directory)}; setData txns of {valueBytes} B; one writer thread, {seconds} s per row");
        Console.WriteLine();
        var table = new MarkdownTable("txn log", "batch", "txns", "txns/s", "µs per batch", "CPU µs/txn", "MB/s logged", "syncs/s");
        var raw = FsyncProbe.NewTable();
        foreach (var batch in batches)
        {
            foreach (var forceSync in new[] { false, true })
            {
                Measure(directory, batch, valueBytes, forceSync, seconds).AddTo(table);
            }

            // A batch's bytes as one block: one overwrite + fdatasync per batch is what a sync per batch costs at best.
            FsyncProbe.Measure(directory, append: false, Math.Min(seconds, 3), BatchBytes(batch, valueBytes)).AddTo(raw);
        }

        Console.Write(table);
        Console.WriteLine();
        Console.WriteLine("Raw overwrite + fdatasync of one batch's bytes, same directory, same run:");
        Console.WriteLine();
        Console.Write(raw);
        if (given is null)
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static int? ParseBatch(string text) => int.TryParse(text, out var batch) && batch is >= 1 and <= 10_000 ? batch : null;

    /// <summary>Roughly what a batch puts in the log: the value plus ~60 bytes of path, header and checksum per txn.</summary>
    private static int BatchBytes(int batch, int valueBytes) => Math.Clamp(batch * (valueBytes + 60), 512, 1 << 20);

    private static LogResult Measure(string directory, int batch, int valueBytes, bool forceSync, int seconds)
    {
        var logDirectory = Path.Combine(directory, "log");
        if (Directory.Exists(logDirectory))
        {
            Directory.Delete(logDirectory, recursive: true);
        }

        var value = new byte[valueBytes];
        new Random(batch).NextBytes(value); // incompressible, and the seed is the batch size: the same bytes every run
        var txns = new List<Txn>(batch);
        long zxid = 0;
        long logged = 0;
        using var log = TxnLog.Open(logDirectory, new TxnLogOptions { ForceSync = forceSync });
        var syncs = log.WalSyncCount;

        // The pipeline's shape: the writer writes batch N+1 while another thread syncs batch N, two batches in flight.
        using var written = new BlockingCollection<long>(boundedCapacity: 1);
        var syncer = new Thread(() =>
        {
            foreach (var last in written.GetConsumingEnumerable())
            {
                log.Sync(new Zxid(last));
            }
        }) { IsBackground = true, Name = "log sync" };
        syncer.Start();

        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var started = Stopwatch.GetTimestamp();
        var deadline = started + seconds * Stopwatch.Frequency;
        while (Stopwatch.GetTimestamp() < deadline)
        {
            txns.Clear();
            for (var i = 0; i < batch; i++)
            {
                zxid++;
                txns.Add(new Txn(new Zxid(zxid), SessionId: new SessionId(1), Time: 0, new SetDataTxn("/bench/n" + (zxid % 64), value, Version: -1)));
            }

            log.Write(txns);
            logged += batch;
            written.Add(zxid);
        }

        written.CompleteAdding();
        syncer.Join();
        var elapsed = Stopwatch.GetElapsedTime(started).TotalSeconds;
        var cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalSeconds;
        var label = forceSync ? "LiteDB, fdatasync per batch" : "LiteDB, no sync";
        return new LogResult(label, batch, logged, elapsed, cpu, (double)logged * (valueBytes + 60), log.WalSyncCount - syncs);
    }

    private sealed record LogResult(string Label, int Batch, long Txns, double Seconds, double CpuSeconds, double Bytes, long Syncs)
    {
        public void AddTo(MarkdownTable table) => table.Add(
            Label,
            Format.Count(Batch),
            Format.Count(Txns),
            Format.Count(Txns / Seconds),
            Format.Fixed(Seconds * 1e6 / (Txns / (double)Batch), 1),
            Format.Fixed(CpuSeconds * 1e6 / Txns, 2),
            Format.Fixed(Bytes / Seconds / 1e6, 1),
            Format.Count(Syncs / Seconds));
    }
}
