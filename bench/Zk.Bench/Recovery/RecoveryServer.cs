using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace Zk.Bench.Recovery;

/// <summary>
/// A server process (Apache ZooKeeper 3.8 from the Debian package, started as <c>zkServer.sh start-foreground</c>
/// does, or our <c>zk start</c>) on a loopback port, with one zoo.cfg and dataDir that outlive the process, so it can
/// be stopped (SIGTERM) and started again on the same data. zoo.cfg keys are those of the wire comparison: forceSync
/// and snapCount at their defaults (yes, 100,000).
/// </summary>
internal sealed class RecoveryServer
{
    private const int SigTerm = 15;

    private readonly Func<string, string[]> _command;
    private Process? _process;

    private RecoveryServer(string name, string directory, string dataDir, Func<string, string[]> command)
    {
        Name = name;
        Directory = directory;
        DataDir = dataDir;
        _command = command;
        System.IO.Directory.CreateDirectory(directory);
        System.IO.Directory.CreateDirectory(DataDir);
        EndPoint = new IPEndPoint(IPAddress.Loopback, LoopbackPort.Free());
        File.WriteAllText(ConfigPath, $"""
            tickTime=2000
            dataDir={DataDir}
            clientPort={EndPoint.Port}
            clientPortAddress=127.0.0.1
            maxClientCnxns=0
            admin.enableServer=false
            4lw.commands.whitelist=srvr

            """);
    }

    public string Name { get; }

    public string Directory { get; }

    public string DataDir { get; }

    public IPEndPoint EndPoint { get; }

    public static RecoveryServer Apache(string directory) =>
        new("Apache ZooKeeper", directory, Path.Combine(directory, "data"), cfg =>
        [
            "java", "-Dzookeeper.log.dir=" + directory, "-Dzookeeper.log.file=zookeeper.log", "-Dzookeeper.root.logger=INFO,CONSOLE",
            "-XX:+HeapDumpOnOutOfMemoryError", "-cp", "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar",
            "org.apache.zookeeper.server.quorum.QuorumPeerMain", cfg,
        ]);

    /// <summary>Our <c>dotnet zk.dll start zoo.cfg</c> on an existing dataDir.</summary>
    public static RecoveryServer Ours(string zkDll, string directory, string dataDir) =>
        new("Zk.Embedded (zk)", directory, dataDir, cfg => ["dotnet", zkDll, "start", cfg]);

    private string ConfigPath => Path.Combine(Directory, "zoo.cfg");

    private string LogPath => Path.Combine(Directory, "server.log");

    /// <summary>Starts the JVM and returns how long it took until <c>srvr</c> reports at least <paramref name="minNodes"/> znodes.</summary>
    public async Task<(TimeSpan Elapsed, long Nodes)> StartAsync(long minNodes, TimeSpan timeout)
    {
        if (_process is not null)
        {
            throw new InvalidOperationException("already running");
        }

        var start = new ProcessStartInfo("/bin/sh") { UseShellExecute = false, WorkingDirectory = Directory };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("exec \"$@\" >server.log 2>&1 </dev/null");
        start.ArgumentList.Add("sh");
        foreach (var argument in _command(ConfigPath))
        {
            start.ArgumentList.Add(argument);
        }

        var clock = Stopwatch.StartNew();
        _process = Process.Start(start) ?? throw new IOException($"could not start {Name}");
        while (true)
        {
            if (_process.HasExited)
            {
                throw new IOException($"{Name} exited with code {_process.ExitCode}:\n{LogTail()}");
            }

            var nodes = Srvr(EndPoint);
            if (nodes >= minNodes)
            {
                var elapsed = clock.Elapsed;
                ResidentBytesAtServe = ResidentBytes(_process.Id);
                return (elapsed, nodes);
            }

            if (clock.Elapsed > timeout)
            {
                throw new TimeoutException($"{Name} did not report {minNodes} znodes within {timeout.TotalSeconds} s (last: {nodes}):\n{LogTail()}");
            }

            await Task.Delay(20).ConfigureAwait(false);
        }
    }

    /// <summary>The server's resident set (VmRSS) when <see cref="StartAsync"/> saw it serve every znode; 0 when unknown.</summary>
    public long ResidentBytesAtServe { get; private set; }

    private static long ResidentBytes(int pid)
    {
        try
        {
            var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
            return line is null ? 0 : long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) * 1024;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    /// <summary>SIGTERM, as an operator's restart does; SIGKILL after 60 s.</summary>
    public async Task StopAsync()
    {
        if (_process is null)
        {
            return;
        }

        if (!_process.HasExited)
        {
            _ = kill(_process.Id, SigTerm);
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            try
            {
                await _process.WaitForExitAsync(wait.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                _process.Kill();
                await _process.WaitForExitAsync().ConfigureAwait(false);
            }
        }

        _process.Dispose();
        _process = null;
    }

    /// <summary>Lines of the last start's log about loading the snapshot and replaying the txn log.</summary>
    public IEnumerable<string> RecoveryLogLines()
    {
        if (!File.Exists(LogPath))
        {
            return [];
        }

        return File.ReadLines(LogPath)
            .Where(l => l.Contains("loaded in", StringComparison.OrdinalIgnoreCase) || l.Contains("Snapshotting", StringComparison.Ordinal)
                || l.Contains("Reading snapshot", StringComparison.Ordinal)
                || l.Contains("Recovered zxid", StringComparison.Ordinal) || l.Contains("Recovery took", StringComparison.Ordinal))
            .Select(l => l.Trim())
            .ToList();
    }

    public string LogTail()
    {
        if (!File.Exists(LogPath))
        {
            return "(no output)";
        }

        var lines = File.ReadAllLines(LogPath);
        return string.Join('\n', lines[Math.Max(0, lines.Length - 20)..]);
    }

    /// <summary>The "Node count" of a <c>srvr</c> answer; -1 while the server does not answer or does not serve yet.</summary>
    private static long Srvr(IPEndPoint endPoint)
    {
        try
        {
            using var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { ReceiveTimeout = 2000, SendTimeout = 2000 };
            socket.Connect(endPoint);
            socket.Send("srvr"u8);
            var text = new StringBuilder();
            var buffer = new byte[4096];
            int read;
            while ((read = socket.Receive(buffer)) > 0)
            {
                text.Append(Encoding.ASCII.GetString(buffer, 0, read));
            }

            foreach (var line in text.ToString().Split('\n'))
            {
                if (line.StartsWith("Node count:", StringComparison.Ordinal))
                {
                    return long.Parse(line["Node count:".Length..].Trim(), CultureInfo.InvariantCulture);
                }
            }

            return -1;
        }
        catch (SocketException)
        {
            return -1;
        }
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
#pragma warning disable SYSLIB1054 // blittable; LibraryImport would need unsafe blocks for nothing
    private static extern int kill(int pid, int signal);
#pragma warning restore SYSLIB1054
}
