using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Zk.Bench.Wire;

/// <summary>
/// A ZooKeeper server the bench starts as a child process on a loopback port, with its own zoo.cfg and dataDir in a
/// temp directory: our <c>zk start</c> or Apache ZooKeeper's QuorumPeerMain (started as <c>zkServer.sh
/// start-foreground</c> does). Both get the same zoo.cfg keys (forceSync at its default, yes), so they are measured
/// the same way: CPU from /proc/&lt;pid&gt;/stat, stopped with SIGTERM (SIGKILL after 10 s), directory deleted.
/// </summary>
internal sealed class ServerProcess : IAsyncDisposable
{
    /// <summary>USER_HZ, the unit of utime and stime.</summary>
    private const double TicksPerSecond = 100;

    private const int SigTerm = 15;

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    private readonly Process _process;

    private ServerProcess(string name, Process process, string directory, IPEndPoint endPoint)
    {
        Name = name;
        _process = process;
        Directory = directory;
        EndPoint = endPoint;
    }

    public string Name { get; }

    public string Directory { get; }

    public string DataDir => Path.Combine(Directory, "data");

    public IPEndPoint EndPoint { get; }

    public int Pid => _process.Id;

    /// <summary>Starts our peer: <c>dotnet zk.dll start zoo.cfg</c>.</summary>
    public static Task<ServerProcess> StartOursAsync(string zkDll, string root) =>
        StartAsync("Zk.Embedded (zk)", root, "zk", cfg => ["dotnet", zkDll, "start", cfg]);

    /// <summary>Starts Apache ZooKeeper standalone from the Debian package, as zkServer.sh start-foreground does.</summary>
    public static Task<ServerProcess> StartApacheAsync(string root) =>
        StartAsync("Apache ZooKeeper", root, "apache", cfg =>
        [
            "java",
            "-Dzookeeper.log.dir=" + Path.GetDirectoryName(cfg),
            "-Dzookeeper.log.file=zookeeper.log",
            "-Dzookeeper.root.logger=INFO,CONSOLE",
            "-XX:+HeapDumpOnOutOfMemoryError",
            "-cp",
            "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar",
            "org.apache.zookeeper.server.quorum.QuorumPeerMain",
            cfg,
        ]);

    /// <summary>utime + stime of the whole server process so far, in seconds.</summary>
    public double CpuSeconds() => CpuSecondsOf(Pid);

    /// <summary>utime + stime of process <paramref name="pid"/> so far, in seconds (any process: <c>wire --server-pid</c>).</summary>
    public static double CpuSecondsOf(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / TicksPerSecond;
    }

    /// <summary>The server's output (its log), for when it fails.</summary>
    public string LogTail()
    {
        var log = Path.Combine(Directory, "server.log");
        if (!File.Exists(log))
        {
            return "(no output)";
        }

        var lines = File.ReadAllLines(log);
        return string.Join('\n', lines[Math.Max(0, lines.Length - 20)..]);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _ = kill(Pid, SigTerm);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try
            {
                await _process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                _process.Kill();
                await _process.WaitForExitAsync().ConfigureAwait(false);
            }
        }

        _process.Dispose();
        System.IO.Directory.Delete(Directory, recursive: true);
    }

    private static async Task<ServerProcess> StartAsync(string name, string root, string tag, Func<string, string[]> command)
    {
        var directory = Path.Combine(root, tag);
        System.IO.Directory.CreateDirectory(Path.Combine(directory, "data"));
        var port = LoopbackPort.Free();
        var cfg = Path.Combine(directory, "zoo.cfg");
        await File.WriteAllTextAsync(cfg, $"""
            tickTime=2000
            dataDir={Path.Combine(directory, "data")}
            clientPort={port}
            clientPortAddress=127.0.0.1
            maxClientCnxns=0
            admin.enableServer=false

            """).ConfigureAwait(false);

        // sh execs the server, so the child's pid is the server's and its output goes to a file nobody has to drain.
        var start = new ProcessStartInfo("/bin/sh") { UseShellExecute = false, WorkingDirectory = directory };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("exec \"$@\" >server.log 2>&1 </dev/null");
        start.ArgumentList.Add("sh");
        foreach (var argument in command(cfg))
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start) ?? throw new IOException($"could not start {name}");
        var server = new ServerProcess(name, process, directory, new IPEndPoint(IPAddress.Loopback, port));
        try
        {
            await server.WaitReadyAsync().ConfigureAwait(false);
            return server;
        }
        catch
        {
            var tail = server.LogTail();
            await server.DisposeAsync().ConfigureAwait(false);
            throw new IOException($"{name} did not start serving sessions on {server.EndPoint} within {StartTimeout.TotalSeconds} s:\n{tail}");
        }
    }

    /// <summary>Ready means a session opens: ruok answers before ZooKeeper serves sessions (ZK-NOTES).</summary>
    private async Task WaitReadyAsync()
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(StartTimeout.TotalSeconds * Stopwatch.Frequency);
        var frames = WireFrames.Build(0);
        while (true)
        {
            if (_process.HasExited)
            {
                throw new IOException($"{Name} exited with code {_process.ExitCode}");
            }

            try
            {
                using var connection = WireConnection.Open(EndPoint, frames, 1, 1);
                return;
            }
            catch (Exception e) when (e is SocketException or IOException or OperationCanceledException)
            {
                if (Stopwatch.GetTimestamp() > deadline)
                {
                    throw;
                }

                await Task.Delay(200).ConfigureAwait(false);
            }
        }
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
#pragma warning disable SYSLIB1054 // blittable; LibraryImport would need unsafe blocks for nothing
    private static extern int kill(int pid, int signal);
#pragma warning restore SYSLIB1054
}
