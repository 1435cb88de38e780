using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Zk.Bench.Disk;
using Zk.Bench.Reporting;
using Zk.Embedded;
using Zk.Embedded.Api;

namespace Zk.Bench.Load;

/// <summary>
/// The end-to-end load generator: N in-process sessions on one peer, each with K requests outstanding, through the
/// full request path (session, pipeline, tree, outbox). Prints one Markdown row per measured run.
/// </summary>
internal static class LoadCommand
{
    public static Command Define()
    {
        var sessions = BenchOption.Int("--sessions", 8, 1, 1024, "in-process sessions");
        var seconds = BenchOption.Int("--seconds", 10, 1, 600, "length of each measured run");
        var warmup = BenchOption.Int("--warmup-seconds", 2, 0, 60, "unmeasured load before each run");
        var workload = BenchOption.Choice("--workload", "get", "what the sessions send", "get", "set", "mix90");
        var valueBytes = BenchOption.Int("--value-bytes", 1024, 0, 1 << 20, "bytes of each znode's data");
        var inflight = BenchOption.Int("--inflight", 1, 1, 1024, "requests outstanding per session");
        var runs = BenchOption.Int("--runs", 1, 1, 20, "measured runs, one row each");
        var maxOps = BenchOption.Int("--max-ops", int.MaxValue, 1, int.MaxValue, "stop a run after this many requests");
        var durable = new Option<bool?>("--durable") { Description = "a peer with a dataDir, every write batch logged before it replies (default: true when --data-dir is given)" };
        var dataDir = BenchOption.Text("--data-dir", "the durable peer's dataDir (default: a temp dir, deleted afterwards)");
        var forceSync = BenchOption.Flag("--force-sync", true, "zoo.cfg forceSync: fsync each batch before replying");
        var fsyncSeconds = BenchOption.Int("--fsync-seconds", 2, 0, 60, "raw fsync measurement before and after a durable run");
        var command = new Command("load", "N in-process sessions with K requests each outstanding, through the full request path")
        {
            sessions, seconds, warmup, workload, valueBytes, inflight, runs, maxOps, durable, dataDir, forceSync, fsyncSeconds,
        };
        command.SetAction((r, _) => RunAsync(new LoadOptions
        {
            Sessions = r.GetValue(sessions),
            Seconds = r.GetValue(seconds),
            WarmupSeconds = r.GetValue(warmup),
            Workload = r.GetValue(workload)!,
            ValueBytes = r.GetValue(valueBytes),
            Inflight = r.GetValue(inflight),
            Runs = r.GetValue(runs),
            MaxOps = r.GetValue(maxOps),
            DataDir = r.GetValue(dataDir),
            Durable = r.GetValue(durable) ?? r.GetValue(dataDir) is not null,
            ForceSync = r.GetValue(forceSync),
            FsyncSeconds = r.GetValue(fsyncSeconds),
        }));
        return command;
    }

    private static async Task RunAsync(LoadOptions options)
    {
        var dataDir = options.Durable ? options.DataDir ?? Path.Combine(Path.GetTempPath(), $"zk-bench-load-{Environment.ProcessId}") : null;
        var deleteDataDir = options.Durable && options.DataDir is null;
        Console.WriteLine(MachineInfo.Describe());
        if (dataDir is not null)
        {
            Console.WriteLine($"> durable: dataDir {Path.GetFullPath(dataDir)}, forceSync {(options.ForceSync ? "yes" : "no")}");
        }

        Console.WriteLine();
        try
        {
            await RunAsync(options, dataDir).ConfigureAwait(false);
        }
        finally
        {
            if (deleteDataDir && Directory.Exists(dataDir))
            {
                Directory.Delete(dataDir, recursive: true);
            }
        }
    }

    private static async Task RunAsync(LoadOptions options, string? dataDir)
    {
        var fsyncs = FsyncProbe.NewTable();
        if (dataDir is not null && options.FsyncSeconds > 0)
        {
            FsyncProbe.Measure(dataDir, append: true, options.FsyncSeconds, 4096).AddTo(fsyncs);
            FsyncProbe.Measure(dataDir, append: false, options.FsyncSeconds, 4096).AddTo(fsyncs);
        }

        using var batches = new BatchSizeListener();
        await using var peer = await ZkPeer.StartAsync(new ZkPeerOptions { DataDir = dataDir, ForceSync = options.ForceSync }).ConfigureAwait(false);
        using var log = new LogListener();
        using var pauses = new GcPauseListener();
        var value = new byte[options.ValueBytes];
        Random.Shared.NextBytes(value);
        var sessions = await OpenSessionsAsync(peer, options.Sessions).ConfigureAwait(false);
        var keys = await CreateKeysAsync(sessions[0], value).ConfigureAwait(false);
        var writePercent = options.Workload switch { "get" => 0, "set" => 100, _ => 10 };

        if (options.WarmupSeconds > 0)
        {
            await MeasureAsync(options, sessions, keys, value, writePercent, options.WarmupSeconds, batches, log, pauses).ConfigureAwait(false);
        }

        var table = new MarkdownTable("workload", "sessions", "inflight", "ops", "ops/s", "p50 µs", "p90 µs", "p99 µs", "max µs",
            "CPU µs/op", "cores used", "others' cores", "alloc B/op", "GC 0/1/2", "GC max ms", "GC paused", "inline reads", "mean batch", "fsyncs/s", "sync p50/p99/max µs", "checkpoint max ms");
        var threadsBefore = ThreadCpu.Sample();
        long ops = 0;
        for (var run = 0; run < options.Runs; run++)
        {
            var result = await MeasureAsync(options, sessions, keys, value, writePercent, options.Seconds, batches, log, pauses).ConfigureAwait(false);
            table.Add(result.ToRow(options));
            ops += result.Latencies.Count;
        }

        var threadsAfter = ThreadCpu.Sample();
        Console.Write(table);
        Console.WriteLine();
        Console.Write(ThreadCpu.Table(threadsBefore, threadsAfter, ops));
        foreach (var session in sessions)
        {
            await session.DisposeAsync().ConfigureAwait(false);
        }

        if (dataDir is not null && options.FsyncSeconds > 0)
        {
            // Again after the load, on the same directory (now holding the log): the disk may have changed meanwhile.
            FsyncProbe.Measure(dataDir, append: true, options.FsyncSeconds, 4096).AddTo(fsyncs);
            FsyncProbe.Measure(dataDir, append: false, options.FsyncSeconds, 4096).AddTo(fsyncs);
            Console.WriteLine();
            Console.WriteLine("Raw 4 KiB syncs on the dataDir's disk, before the load (first two rows) and after it:");
            Console.WriteLine();
            Console.Write(fsyncs);
        }
    }

    private static async Task<IZooKeeper[]> OpenSessionsAsync(ZkPeer peer, int count)
    {
        var sessions = new IZooKeeper[count];
        for (var i = 0; i < count; i++)
        {
            sessions[i] = await peer.ConnectAsync(new ZkSessionOptions { SessionTimeout = TimeSpan.FromSeconds(30) }).ConfigureAwait(false);
        }

        return sessions;
    }

    private static async Task<string[]> CreateKeysAsync(IZooKeeper session, byte[] value)
    {
        await session.CreateAsync("/load", null, Acl.OpenUnsafe, CreateMode.Persistent).ConfigureAwait(false);
        var keys = new string[LoadOptions.KeyCount];
        for (var i = 0; i < keys.Length; i++)
        {
            keys[i] = "/load/k" + i.ToString("D4", CultureInfo.InvariantCulture);
            await session.CreateAsync(keys[i], value, Acl.OpenUnsafe, CreateMode.Persistent).ConfigureAwait(false);
        }

        return keys;
    }

    private static async Task<RunResult> MeasureAsync(LoadOptions options, IZooKeeper[] sessions, string[] keys, byte[] value, int writePercent, int seconds, BatchSizeListener batches, LogListener log, GcPauseListener pauses)
    {
        var workers = new LoadWorker[options.Workers];
        for (var i = 0; i < workers.Length; i++)
        {
            workers[i] = new LoadWorker(sessions[i % sessions.Length], keys, value, writePercent, seed: i + 1);
        }

        var opsPerWorker = Math.Max(1, options.MaxOps / workers.Length);
        var batchesBefore = batches.Totals;
        var syncsBefore = log.Syncs;
        pauses.Take();
        log.Take();
        var before = ProcessSample.Take();
        var deadline = Stopwatch.GetTimestamp() + (long)(seconds * (double)Stopwatch.Frequency);
        var running = new Task[workers.Length];
        for (var i = 0; i < workers.Length; i++)
        {
            var worker = workers[i];
            running[i] = Task.Run(() => worker.RunAsync(deadline, opsPerWorker));
        }

        await Task.WhenAll(running).ConfigureAwait(false);
        var after = ProcessSample.Take();
        var paused = pauses.Take();
        var batchesAfter = batches.Totals;
        var syncsAfter = log.Syncs;
        var logMetrics = log.Take();
        long? fsyncs = options.Durable ? syncsAfter - syncsBefore : null;
        var meanBatch = (batchesAfter.Requests - batchesBefore.Requests) / (double)Math.Max(1, batchesAfter.Batches - batchesBefore.Batches);

        var merged = new LatencyHistogram();
        long reads = 0, inlineReads = 0;
        foreach (var worker in workers)
        {
            merged.Add(worker.Latencies);
            reads += worker.Reads;
            inlineReads += worker.InlineReads;
        }

        return new RunResult(merged, after.Minus(before), reads, inlineReads, meanBatch, fsyncs, paused.Longest, paused.Total, options.Durable ? logMetrics : null);
    }
}
