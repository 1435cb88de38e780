using Zk.Embedded.Api;
using Zk.Embedded.Tests.Interop;
using Zk.Embedded.Wire.Client;

namespace Zk.Embedded.Tests.Recipes;

/// <summary>
/// A Curator recipe in a JVM driven line by line from stdin: CuratorLockProbe.java (InterProcessMutex) or
/// CuratorDiscoveryProbe.java (x-discovery's ServiceDiscovery), compiled once per test run with javac against
/// Debian's Curator and ZooKeeper jars. Each command waits for its one-line answer.
/// </summary>
internal sealed class CuratorProbe : IAsyncDisposable
{
    private static readonly string[] Jars =
    [
        "/usr/share/java/curator-recipes.jar", "/usr/share/java/curator-framework.jar", "/usr/share/java/curator-client.jar",
        "/usr/share/java/zookeeper.jar", "/usr/share/java/zookeeper-jute.jar", "/usr/share/java/guava.jar",
        "/usr/share/java/slf4j-api.jar", "/usr/share/java/slf4j-nop.jar", "/usr/share/java/curator-x-discovery.jar",
        "/usr/share/java/jackson-databind.jar", "/usr/share/java/jackson-core.jar", "/usr/share/java/jackson-annotations.jar",
    ];

    private const string Javac = "/usr/bin/javac";
    private const string Java = "/usr/bin/java";
    private static readonly SemaphoreSlim CompileGate = new(1, 1);
    private static string? _classes;

    private readonly ExternalProcess _process;
    private int _answers;

    private CuratorProbe(ExternalProcess process) => _process = process;

    public string Transcript => _process.Transcript;

    /// <summary>Runs <paramref name="scenario"/> with an in-process session on our peer and the connect string a probe reaches it on.</summary>
    public static async Task OnOurPeerAsync(Func<IZooKeeper, string, Task> scenario)
    {
        await using var peer = await ZkPeer.StartAsync(new ZkPeerOptions { ClientPort = 0 });
        await using var zk = await peer.ConnectAsync();
        await scenario(zk, $"127.0.0.1:{peer.ClientEndPoint!.Port}");
    }

    /// <summary>Runs <paramref name="scenario"/> with a wire client session on Apache ZooKeeper and its connect string.</summary>
    public static async Task OnApacheZooKeeperAsync(Func<IZooKeeper, string, Task> scenario)
    {
        InteropTools.RequireFiles(InteropTools.ZkServer);
        await using var server = await ApacheZooKeeper.StartAsync(TimeSpan.FromSeconds(60));
        var connect = $"127.0.0.1:{server.ClientEndPoint.Port}";
        await using var zk = await ZkClient.ConnectAsync(connect);
        await scenario(zk, connect);
    }

    /// <summary>Starts the lock probe on <paramref name="lockPath"/>; skips the test when Java or Curator is not installed.</summary>
    public static Task<CuratorProbe> StartAsync(string connectString, string lockPath) => StartProbeAsync("CuratorLockProbe", connectString, lockPath);

    /// <summary>Starts the probe class <paramref name="probe"/> with <paramref name="args"/>; skips the test when Java or Curator is not installed.</summary>
    public static async Task<CuratorProbe> StartProbeAsync(string probe, params string[] args)
    {
        InteropTools.RequireFiles([Javac, Java, .. Jars]);
        var classes = await CompileAsync();
        var process = new CuratorProbe(ExternalProcess.Start(Java, ["-cp", $"{classes}:{string.Join(':', Jars)}", probe, .. args]));
        await process.AnswerAsync("ready");
        return process;
    }

    /// <summary>Sends a command and waits for its next answer line, which must start with <paramref name="expected"/>; returns the line.</summary>
    public async Task<string> SendAsync(string command, string expected)
    {
        await _process.WriteLineAsync(command);
        return await AnswerAsync(expected);
    }

    /// <summary>Sends a command without waiting for its answer (for "acquire", which answers "waiting" then "acquired").</summary>
    public Task SendOnlyAsync(string command) => _process.WriteLineAsync(command);

    /// <summary>Waits for the next answer line and checks it starts with <paramref name="expected"/>.</summary>
    public async Task<string> AnswerAsync(string expected)
    {
        var index = _answers++;
        await _process.WaitForOutputAsync(() => Lines().Length > index, $"answer {index + 1} ('{expected}…')", InteropTools.ProgramDeadline);
        var line = Lines()[index];
        Assert.True(line.StartsWith(expected, StringComparison.Ordinal), $"expected Curator to answer '{expected}…', it answered '{line}'. Transcript:\n{Transcript}");
        return line;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            await _process.WriteLineAsync("quit");
        }

        await _process.DisposeAsync();
    }

    private string[] Lines() => _process.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static async Task<string> CompileAsync()
    {
        await CompileGate.WaitAsync();
        try
        {
            if (_classes is null)
            {
                var folder = Directory.CreateTempSubdirectory("curator-probe-").FullName;
                var sources = Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Recipes"), "Curator*Probe.java");
                await using var javac = ExternalProcess.Start(Javac, ["-d", folder, "-cp", string.Join(':', Jars), .. sources]);
                await javac.WaitForExitAsync(InteropTools.ProgramDeadline);
                Assert.True(javac.ExitCode == 0, $"expected javac to compile {string.Join(", ", sources)}, it exited {javac.ExitCode}:\n{javac.Transcript}");
                _classes = folder;
            }

            return _classes;
        }
        finally
        {
            CompileGate.Release();
        }
    }
}
