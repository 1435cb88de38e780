using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Zk.Bench.Wire;

namespace Zk.Bench.EnsembleWire;

/// <summary>
/// A replicated ensemble of N server processes on loopback, each with its own zoo.cfg (the same server.N lines),
/// myid and dataDir under one temp directory: our <c>zk start</c> over NetMQ, or Apache ZooKeeper's QuorumPeerMain.
/// Both get tickTime 2000, initLimit 10, syncLimit 5 and forceSync at its default (yes).
/// </summary>
internal sealed class EnsembleProcesses : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);

    private readonly Process?[] _processes;
    private readonly Func<string, string[]> _command;
    private readonly string[] _configs;

    private EnsembleProcesses(string name, string directory, IPEndPoint[] clients, string[] configs, Func<string, string[]> command)
    {
        (Name, Directory, Clients, _configs, _command) = (name, directory, clients, configs, command);
        _processes = new Process?[clients.Length];
    }

    public string Name { get; }

    public string Directory { get; }

    /// <summary>Each member's client endpoint, member i+1 at index i.</summary>
    public IPEndPoint[] Clients { get; }

    public static Task<EnsembleProcesses> StartOursAsync(string zkDll, string root, int members) =>
        StartAsync("Zk.Embedded (zk, NetMQ)", Path.Combine(root, "zk"), members, ours: true, cfg => ["dotnet", zkDll, "start", cfg]);

    public static Task<EnsembleProcesses> StartApacheAsync(string root, int members) =>
        StartAsync("Apache ZooKeeper", Path.Combine(root, "apache"), members, ours: false, cfg =>
        [
            "java", "-Dzookeeper.log.dir=" + Path.GetDirectoryName(cfg), "-Dzookeeper.log.file=zookeeper.log",
            "-Dzookeeper.root.logger=INFO,CONSOLE", "-cp", "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar",
            "org.apache.zookeeper.server.quorum.QuorumPeerMain", cfg,
        ]);

    private static async Task<EnsembleProcesses> StartAsync(string name, string directory, int members, bool ours, Func<string, string[]> command)
    {
        System.IO.Directory.CreateDirectory(directory);
        var ports = Enumerable.Range(0, members).Select(_ => (Quorum: LoopbackPort.Free(), Election: LoopbackPort.Free(), Client: LoopbackPort.Free())).ToArray();
        var servers = new StringBuilder();
        for (var i = 0; i < members; i++)
            servers.Append(CultureInfo.InvariantCulture, $"server.{i + 1}=127.0.0.1:{ports[i].Quorum}:{ports[i].Election}\n");
        var secret = Path.Combine(directory, "quorum.secret");
        if (ours)
            await File.WriteAllBytesAsync(secret, System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)).ConfigureAwait(false);
        var configs = new string[members];
        for (var i = 0; i < members; i++)
        {
            var dir = Path.Combine(directory, $"server{i + 1}");
            System.IO.Directory.CreateDirectory(Path.Combine(dir, "data"));
            await File.WriteAllTextAsync(Path.Combine(dir, "data", "myid"), $"{i + 1}\n").ConfigureAwait(false);
            configs[i] = Path.Combine(dir, "zoo.cfg");
            await File.WriteAllTextAsync(configs[i], $"""
                tickTime=2000
                initLimit=10
                syncLimit=5
                dataDir={Path.Combine(dir, "data")}
                clientPort={ports[i].Client}
                clientPortAddress=127.0.0.1
                maxClientCnxns=0
                admin.enableServer=false
                4lw.commands.whitelist=*
                {(ours ? "quorum.auth.secretFile=" + secret : "")}
                {servers}
                """).ConfigureAwait(false);
        }

        var ensemble = new EnsembleProcesses(name, directory, [.. ports.Select(p => new IPEndPoint(IPAddress.Loopback, p.Client))], configs, command);
        try
        {
            for (var i = 0; i < members; i++)
                ensemble.Start(i + 1);
            await ensemble.WaitServingAsync(Enumerable.Range(1, members)).ConfigureAwait(false);
            return ensemble;
        }
        catch
        {
            await ensemble.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Starts member <paramref name="id"/> (again, after a kill).</summary>
    public void Start(int id)
    {
        var cfg = _configs[id - 1];
        var start = new ProcessStartInfo("/bin/sh") { UseShellExecute = false, WorkingDirectory = Path.GetDirectoryName(cfg)! };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("exec \"$@\" >>server.log 2>&1 </dev/null");
        start.ArgumentList.Add("sh");
        foreach (var argument in _command(cfg))
            start.ArgumentList.Add(argument);
        _processes[id - 1]?.Dispose();
        _processes[id - 1] = Process.Start(start) ?? throw new IOException($"could not start {Name} member {id}");
    }

    /// <summary>SIGKILL of member <paramref name="id"/>.</summary>
    public void Kill(int id) => _processes[id - 1]?.Kill();

    /// <summary>utime + stime of every running member so far, in seconds.</summary>
    public double CpuSeconds()
    {
        var total = 0.0;
        foreach (var p in _processes)
        {
            if (p is { HasExited: false })
                total += ServerProcess.CpuSecondsOf(p.Id);
        }
        return total;
    }

    /// <summary>The member whose <c>srvr</c> says <c>Mode: leader</c>, waiting until exactly one does and the others serve.</summary>
    public async Task<int> LeaderAsync(IEnumerable<int> members)
    {
        var ids = members.ToList();
        var deadline = Stopwatch.GetTimestamp() + (long)(StartTimeout.TotalSeconds * Stopwatch.Frequency);
        var modes = "";
        while (Stopwatch.GetTimestamp() < deadline)
        {
            var answers = new List<string>();
            foreach (var id in ids)
                answers.Add(await ModeAsync(id).ConfigureAwait(false));
            modes = string.Join(", ", ids.Select((id, i) => $"{id}: {answers[i]}"));
            if (answers.Count(a => a == "leader") == 1 && answers.All(a => a is "leader" or "follower"))
                return ids[answers.IndexOf("leader")];
            await Task.Delay(100).ConfigureAwait(false);
        }

        throw new TimeoutException($"{Name}: no single leader among {string.Join(",", ids)} within {StartTimeout.TotalSeconds} s ({modes})");
    }

    private Task WaitServingAsync(IEnumerable<int> members) => LeaderAsync(members);

    private async Task<string> ModeAsync(int id)
    {
        try
        {
            using var client = new TcpClient();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await client.ConnectAsync(Clients[id - 1], timeout.Token).ConfigureAwait(false);
            var stream = client.GetStream();
            await stream.WriteAsync("srvr"u8.ToArray(), timeout.Token).ConfigureAwait(false);
            using var reader = new StreamReader(stream);
            var text = await reader.ReadToEndAsync(timeout.Token).ConfigureAwait(false);
            return text.Split('\n').FirstOrDefault(l => l.StartsWith("Mode: ", StringComparison.Ordinal))?[6..].Trim() ?? "not serving";
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException)
        {
            return "down";
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var p in _processes)
        {
            if (p is null)
                continue;
            if (!p.HasExited)
            {
                p.Kill();
                await p.WaitForExitAsync().ConfigureAwait(false);
            }
            p.Dispose();
        }

        if (System.IO.Directory.Exists(Directory))
            System.IO.Directory.Delete(Directory, recursive: true);
    }

}
