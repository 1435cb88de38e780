using System.Buffers;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Zk.Bench.Reporting;
using Zk.Bench.Wire;
using Zk.Embedded;
using Zk.Embedded.Api;
using Zk.Embedded.Wire.Jute;

namespace Zk.Bench.Recovery;

/// <summary>
/// <c>recovery</c>: time to come back with N znodes of B bytes on disk. Ours: a durable in-process peer is filled,
/// disposed, and <see cref="ZkPeer.StartAsync"/> on the same dataDir is timed until it returns; then the same dataDir
/// is started as the <c>zk</c> program and timed until <c>srvr</c> reports every znode. Apache ZooKeeper: filled over
/// the wire by pipelined connections, stopped with SIGTERM, started again and timed until <c>srvr</c> reports every
/// znode. Everything on loopback, in a temp directory deleted at the end.
/// </summary>
internal static class RecoveryCommand
{
    private const string Prefix = "/rec";
    private const int Connections = 8;
    private const int Inflight = 256;
    private const int Chunk = 8192;

    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(5);

    public static Command Define()
    {
        var nodes = BenchOption.Int("--nodes", 1_000_000, 1, 10_000_000, "znodes on disk");
        var valueBytes = BenchOption.Int("--value-bytes", 1024, 0, 1 << 19, "bytes of data per znode");
        var parents = BenchOption.Int("--parents", 1000, 1, 100_000, "parents the znodes spread over");
        var zkDll = BenchOption.ZkDll();
        var apache = BenchOption.Flag("--apache", true, "also measure Apache ZooKeeper");
        var reuseDir = BenchOption.Text("--reuse-dir", "keep our dataDir here; a later run on it restarts without filling again");
        var command = new Command("recovery", "restart time with N znodes on disk: ours (in-process and zk program) vs Apache ZooKeeper")
        {
            nodes, valueBytes, parents, zkDll, apache, reuseDir,
        };
        command.SetAction((r, _) => RunAsync(r.GetValue(nodes), r.GetValue(valueBytes), r.GetValue(parents), r.GetValue(zkDll)!, r.GetValue(apache), r.GetValue(reuseDir)));
        return command;
    }

    private static async Task RunAsync(int nodes, int valueBytes, int parents, string zkDll, bool apache, string? reuseDir)
    {
        Console.WriteLine(MachineInfo.Describe());
        var root = Path.Combine(Path.GetTempPath(), $"zk-bench-recovery-{Environment.ProcessId}");
        Directory.CreateDirectory(root);
        Console.WriteLine($"> {nodes:N0} znodes of {valueBytes} B over {parents} parents; dataDirs under {root}; forceSync=yes, snapCount=100,000 (defaults)");
        var value = new byte[valueBytes];
        new Random(42).NextBytes(value);
        var expected = nodes + parents;
        var table = new MarkdownTable("server", "restart", "time to serve", "resident memory when serving", "znodes after", "newest snapshot", "all snapshots", "txn log files", "txns replayed", "fill");
        try
        {
            // --reuse-dir: the dataDir outlives the run, and a second run restarts it without filling again (restart
            // experiments on 1M znodes would otherwise spend minutes filling for seconds of measurement).
            var oursDir = reuseDir is null ? Path.Combine(root, "ours-data") : Path.GetFullPath(reuseDir);
            TimeSpan? ourFill = null, ourEmptyStart = null;
            if (reuseDir is not null && Directory.Exists(oursDir) && Directory.EnumerateFileSystemEntries(oursDir).Any())
            {
                Console.Error.WriteLine($"ours: reusing the dataDir {oursDir} (not filled again; --nodes must match it)");
            }
            else
            {
                var (fill, emptyStart) = await FillOursAsync(oursDir, nodes, parents, value).ConfigureAwait(false);
                (ourFill, ourEmptyStart) = (fill, emptyStart);
                Console.Error.WriteLine($"ours: filled in {fill.TotalSeconds:F1} s");
            }

            var (ourRestart, ourNodes, replayed) = await RestartOursAsync(oursDir).ConfigureAwait(false);
            var ourSnaps = Files(oursDir, f => f.Name.StartsWith("snapshot.", StringComparison.Ordinal));
            if (ourEmptyStart is { } empty)
            {
                table.Add("Zk.Embedded, in-process", "empty dataDir", Seconds(empty), "", "0", "", "", "", "", "");
            }

            table.Add("Zk.Embedded, in-process", "ZkPeer.StartAsync returned", Seconds(ourRestart), "", Format.Count(ourNodes), Newest(ourSnaps), Total(ourSnaps),
                Total(Files(oursDir, f => !f.Name.StartsWith("snapshot.", StringComparison.Ordinal))), replayed, ourFill is { } filled ? Seconds(filled) : "reused");
            Console.Error.WriteLine($"ours in-process: recovered {ourNodes:N0} znodes in {ourRestart.TotalSeconds:F2} s");

            ReleaseMemory();
            if (File.Exists(zkDll))
            {
                var program = RecoveryServer.Ours(zkDll, Path.Combine(root, "ours-program"), oursDir);
                try
                {
                    var (elapsed, count) = await program.StartAsync(expected, StartTimeout).ConfigureAwait(false);
                    table.Add("Zk.Embedded, `zk` program", "process start → srvr full count", Seconds(elapsed), Mib(program.ResidentBytesAtServe), Format.Count(count), "", "", "", "", "");
                    Console.Error.WriteLine($"ours program: {count:N0} znodes in {elapsed.TotalSeconds:F2} s, resident {Mib(program.ResidentBytesAtServe)}");
                    foreach (var log in program.RecoveryLogLines())
                    {
                        Console.Error.WriteLine("ours program log: " + log);
                    }
                }
                catch (Exception e) when (e is IOException or TimeoutException)
                {
                    Console.Error.WriteLine($"zk program variant failed: {e.Message}");
                }
                finally
                {
                    await program.StopAsync().ConfigureAwait(false);
                }
            }
            else
            {
                Console.Error.WriteLine($"{zkDll} not found (dotnet build -c Release Zk.Server): skipping the zk program variant");
            }

            if (reuseDir is null)
            {
                Directory.Delete(oursDir, recursive: true);
            }

            if (apache)
            {
                await MeasureApacheAsync(root, nodes, parents, value, expected, table).ConfigureAwait(false);
            }
        }
        finally
        {
            Console.WriteLine();
            Console.Write(table);
            if (Directory.Exists(root))
            {
                Directory.Delete(root, recursive: true);
            }
        }
    }

    private static async Task<(TimeSpan Fill, TimeSpan EmptyStart)> FillOursAsync(string dataDir, int nodes, int parents, byte[] value)
    {
        var clock = Stopwatch.StartNew();
        await using var peer = await ZkPeer.StartAsync(new ZkPeerOptions { DataDir = dataDir }).ConfigureAwait(false);
        var emptyStart = clock.Elapsed;
        await using var session = await peer.ConnectAsync().ConfigureAwait(false);
        for (var p = 0; p < parents; p++)
        {
            await session.CreateAsync(ParentPath(p), null, Acl.OpenUnsafe, CreateMode.Persistent).ConfigureAwait(false);
        }

        clock.Restart();
        // Writers in flight: Connections × Inflight, each worker keeping a window of creates outstanding.
        var workers = new Task[Connections];
        for (var w = 0; w < Connections; w++)
        {
            var worker = w;
            workers[w] = Task.Run(async () =>
            {
                var pending = new List<Task>(Inflight);
                for (var i = worker; i < nodes; i += Connections)
                {
                    pending.Add(session.CreateAsync(NodePath(i, parents), value, Acl.OpenUnsafe, CreateMode.Persistent).AsTask());
                    if (pending.Count == Inflight)
                    {
                        await Task.WhenAll(pending).ConfigureAwait(false);
                        pending.Clear();
                    }
                }

                await Task.WhenAll(pending).ConfigureAwait(false);
            });
        }

        await Task.WhenAll(workers).ConfigureAwait(false);
        return (clock.Elapsed, emptyStart);
    }

    private static async Task<(TimeSpan Elapsed, int Nodes, string Replayed)> RestartOursAsync(string dataDir)
    {
        // The filled peer's tree is garbage now; collect it so the restart does not pay for it.
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        using var logs = new CapturingLoggerFactory();
        var clock = Stopwatch.StartNew();
        await using var peer = await ZkPeer.StartAsync(new ZkPeerOptions { DataDir = dataDir }, logs).ConfigureAwait(false);
        var elapsed = clock.Elapsed;
        var count = peer.NodeCount;
        var finished = logs.Find(3001);
        Console.Error.WriteLine($"ours in-process log: {finished?.Text ?? "(no RecoveryFinished)"}");
        var replayed = finished?.Fields.FirstOrDefault(f => f.Key == "Replayed").Value?.ToString() ?? "?";
        return (elapsed, count, replayed is "?" ? replayed : Format.Count(long.Parse(replayed, CultureInfo.InvariantCulture)));
    }

    /// <summary>
    /// Gives what the bench's heap does not use back to the OS before a server process is timed. Measured on the
    /// 2-core VM: while another process keeps ~2.6 GB resident, a fresh process's page faults cost about 3× more
    /// (`zk` recovery 3.3 s → 11.9 s, 9.5 s of it in the kernel, next to an idle 2.6 GB holder process), so the row
    /// would partly time the bench's leftovers. (This returned ~0.3 GB: the in-process peer's ~1.4 GB tree stayed
    /// reachable after its DisposeAsync here. A disposed peer is collectable (PeerLifetimeTests), so what held it was
    /// in this command; not found yet.)
    /// </summary>
    private static void ReleaseMemory()
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
    }

    private static async Task MeasureApacheAsync(string root, int nodes, int parents, byte[] value, int expected, MarkdownTable table)
    {
        var server = RecoveryServer.Apache(Path.Combine(root, "apache"));
        try
        {
            var (emptyStart, _) = await server.StartAsync(0, StartTimeout).ConfigureAwait(false);
            table.Add("Apache ZooKeeper", "empty dataDir (JVM start → srvr)", Seconds(emptyStart), Mib(server.ResidentBytesAtServe), "0", "", "", "", "", "");
            var fill = Stopwatch.StartNew();
            FillOverWire(server, nodes, parents, value);
            fill.Stop();
            Console.Error.WriteLine($"apache: filled in {fill.Elapsed.TotalSeconds:F1} s");
            await server.StopAsync().ConfigureAwait(false);
            ReleaseMemory();
            var (elapsed, count) = await server.StartAsync(expected, StartTimeout).ConfigureAwait(false);
            Console.Error.WriteLine($"apache: {count:N0} znodes in {elapsed.TotalSeconds:F2} s");
            foreach (var log in server.RecoveryLogLines())
            {
                Console.Error.WriteLine("apache log: " + log);
            }

            var version2 = Path.Combine(server.DataDir, "version-2");
            var snaps = Files(version2, f => f.Name.StartsWith("snapshot.", StringComparison.Ordinal));
            var txnLogs = Files(version2, f => f.Name.StartsWith("log.", StringComparison.Ordinal));
            table.Add("Apache ZooKeeper", "SIGTERM, JVM start → srvr full count", Seconds(elapsed), Mib(server.ResidentBytesAtServe), Format.Count(count), Newest(snaps), Total(snaps),
                Total(txnLogs) + ", 64 MiB preallocation", "n/a", Seconds(fill.Elapsed));
        }
        finally
        {
            await server.StopAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Connections × Inflight pipelined creates, pre-encoded a chunk at a time, each connection on its own thread.</summary>
    private static void FillOverWire(RecoveryServer server, int nodes, int parents, byte[] value)
    {
        var handshake = WireFrames.Build(value.Length + 64); // only sizes the send buffer: K creates of value + path
        using (var setup = WireConnection.Open(server.EndPoint, handshake, Inflight, 0))
        {
            var parentFrames = new byte[parents][];
            for (var p = 0; p < parents; p++)
            {
                parentFrames[p] = CreateFrame(ParentPath(p), null);
            }

            setup.Execute(parentFrames, (int)ZkErrorCode.NodeExists);
        }

        var threads = new Thread[Connections];
        Exception? failure = null;
        for (var c = 0; c < Connections; c++)
        {
            var connectionIndex = c;
            threads[c] = new Thread(() =>
            {
                try
                {
                    using var connection = WireConnection.Open(server.EndPoint, handshake, Inflight, connectionIndex + 1);
                    var frames = new List<byte[]>(Chunk);
                    for (var i = connectionIndex; i < nodes; i += Connections)
                    {
                        frames.Add(CreateFrame(NodePath(i, parents), value));
                        if (frames.Count == Chunk)
                        {
                            connection.Execute(frames, (int)ZkErrorCode.NodeExists);
                            frames.Clear();
                        }
                    }

                    connection.Execute(frames, (int)ZkErrorCode.NodeExists);
                }
                catch (Exception e)
                {
                    failure ??= e;
                }
            });
            threads[c].Start();
        }

        foreach (var thread in threads)
        {
            thread.Join();
        }

        if (failure is not null)
        {
            throw new IOException("filling Apache ZooKeeper failed", failure);
        }
    }

    private static string ParentPath(int p) => Prefix + p.ToString("D5", CultureInfo.InvariantCulture);

    private static string NodePath(int i, int parents) => ParentPath(i % parents) + "/n" + i.ToString("D7", CultureInfo.InvariantCulture);

    private static byte[] CreateFrame(string path, byte[]? data)
    {
        var body = new ArrayBufferWriter<byte>(2048);
        Jute.Encode(new RequestHeader(0, OpCode.Create), body);
        Jute.Encode(new CreateRequest(path, data, Acl.OpenUnsafe, 0), body);
        var frame = new ArrayBufferWriter<byte>(body.WrittenCount + JuteFrame.HeaderBytes);
        JuteFrame.Write(frame, body.WrittenSpan);
        return frame.WrittenSpan.ToArray();
    }

    private static List<FileInfo> Files(string directory, Func<FileInfo, bool> filter) =>
        Directory.Exists(directory)
            ? new DirectoryInfo(directory).EnumerateFiles("*", SearchOption.AllDirectories).Where(filter).ToList()
            : [];

    private static string Newest(List<FileInfo> files) =>
        files.Count == 0 ? "none" : Format.Bytes(files.OrderByDescending(f => f.Name, StringComparer.Ordinal).First().Length);

    private static string Total(List<FileInfo> files) => Format.Bytes(files.Sum(f => f.Length)) + (files.Count > 1 ? $" ({files.Count})" : "");

    private static string Mib(long bytes) => bytes > 0 ? Format.Bytes(bytes) : "";

    private static string Seconds(TimeSpan elapsed) => Format.Fixed(elapsed.TotalSeconds, 2) + " s";

    /// <summary>Keeps the peer's log entries (to read RecoveryFinished's fields); prints warnings and errors.</summary>
    private sealed class CapturingLoggerFactory : ILoggerFactory
    {
        private readonly List<Entry> _entries = [];

        public Entry? Find(int eventId)
        {
            lock (_entries)
            {
                return _entries.LastOrDefault(e => e.EventId == eventId);
            }
        }

        public void AddProvider(ILoggerProvider provider)
        {
        }

        public ILogger CreateLogger(string categoryName) => new Logger(this);

        public void Dispose()
        {
        }

        internal sealed record Entry(int EventId, string Text, IReadOnlyList<KeyValuePair<string, object?>> Fields);

        private sealed class Logger(CapturingLoggerFactory owner) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                if (!IsEnabled(logLevel))
                {
                    return;
                }

                var text = formatter(state, exception);
                if (logLevel >= LogLevel.Warning)
                {
                    Console.Error.WriteLine($"peer {logLevel}: {text}");
                }

                var fields = state as IReadOnlyList<KeyValuePair<string, object?>> ?? [];
                lock (owner._entries)
                {
                    owner._entries.Add(new Entry(eventId.Id, text, fields.ToList()));
                }
            }
        }
    }
}
