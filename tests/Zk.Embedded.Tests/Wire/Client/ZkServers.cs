using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Zk.Embedded.Api;
using Zk.Embedded.Wire.Client;

namespace Zk.Embedded.Tests.Wire.Client;

/// <summary>A server the contract suite runs against, and how a session is opened on it.</summary>
public interface IZkServer : IAsyncLifetime
{
    Task<IZooKeeper> ConnectAsync(Watcher? defaultWatcher = null);
}

/// <summary>Our peer, used in-process: no sockets at all.</summary>
public sealed class InProcessServer : IZkServer
{
    private ZkPeer? _peer;

    public async Task InitializeAsync() => _peer = await ZkPeer.StartAsync(new ZkPeerOptions());

    public async Task<IZooKeeper> ConnectAsync(Watcher? defaultWatcher = null) =>
        await _peer!.ConnectAsync(new ZkSessionOptions { DefaultWatcher = defaultWatcher, SessionTimeout = TimeSpan.FromSeconds(10) });

    public async Task DisposeAsync() => await _peer!.DisposeAsync();
}

/// <summary>Our peer with a client port, used through <see cref="ZkClient"/>.</summary>
public sealed class PeerWireServer : IZkServer
{
    public ZkPeer Peer { get; private set; } = null!;

    public string ConnectString => $"127.0.0.1:{Peer.ClientEndPoint!.Port}";

    public async Task InitializeAsync() => Peer = await ZkPeer.StartAsync(new ZkPeerOptions { ClientPort = 0 });

    public async Task<IZooKeeper> ConnectAsync(Watcher? defaultWatcher = null) =>
        await ZkClient.ConnectAsync(ConnectString, new ZkClientOptions { DefaultWatcher = defaultWatcher, SessionTimeout = TimeSpan.FromSeconds(10) });

    public async Task DisposeAsync() => await Peer.DisposeAsync();
}

/// <summary>
/// Apache ZooKeeper 3.8 (the Debian package) in the foreground on a free loopback port, with its data and logs in a
/// temp directory, used through <see cref="ZkClient"/>. Killed at the end. Where it is not installed the tests skip,
/// unless CI is "true": then they fail, so CI never passes by skipping.
/// </summary>
public sealed class ApacheZooKeeperServer : IZkServer
{
    private const string ZkServerScript = "/usr/share/zookeeper/bin/zkServer.sh";
    private static readonly TimeSpan StartDeadline = TimeSpan.FromSeconds(60);

    private readonly StringBuilder _output = new();
    private Process? _process;
    private string? _directory;
    private string? _unavailable;

    public string ConnectString { get; private set; } = "";

    public async Task InitializeAsync()
    {
        if (!File.Exists(ZkServerScript) || !File.Exists("/usr/bin/java"))
        {
            _unavailable = $"Apache ZooKeeper is not installed ({ZkServerScript} or java missing)";
            return;
        }

        _directory = Directory.CreateTempSubdirectory("zk-apache-").FullName;
        var port = FreePort();
        var config = Path.Combine(_directory, "zoo.cfg");
        await File.WriteAllTextAsync(config, string.Join('\n',
            "tickTime=500",
            $"dataDir={Path.Combine(_directory, "data")}",
            $"clientPort={port}",
            "clientPortAddress=127.0.0.1",
            "admin.enableServer=false",
            "4lw.commands.whitelist=*",
            ""));
        var start = new ProcessStartInfo("bash", [ZkServerScript, "start-foreground", config])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["ZOO_LOG_DIR"] = _directory;
        start.Environment["JMXDISABLE"] = "true";
        _process = Process.Start(start)!;
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        ConnectString = $"127.0.0.1:{port}";
        await WaitUntilServingAsync();
    }

    public async Task<IZooKeeper> ConnectAsync(Watcher? defaultWatcher = null)
    {
        if (_unavailable is not null)
        {
            if (Environment.GetEnvironmentVariable("CI") == "true")
            {
                Assert.Fail($"{_unavailable}, and CI is true: the Apache ZooKeeper runs must not be skipped.");
            }

            Skip.If(true, _unavailable);
        }

        return await ZkClient.ConnectAsync(ConnectString, new ZkClientOptions { DefaultWatcher = defaultWatcher, SessionTimeout = TimeSpan.FromSeconds(10) });
    }

    public Task DisposeAsync()
    {
        if (_process is { } process)
        {
            try
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit(10_000);
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }

            process.Dispose();
        }

        if (_directory is not null)
        {
            try
            {
                Directory.Delete(_directory, recursive: true);
            }
            catch (IOException)
            {
                // A file still held; the temp dir is cleaned by the OS.
            }
        }

        return Task.CompletedTask;
    }

    private async Task WaitUntilServingAsync()
    {
        var started = Stopwatch.StartNew();
        while (true)
        {
            if (_process!.HasExited)
            {
                throw new InvalidOperationException($"Apache ZooKeeper exited with {_process.ExitCode} before serving:\n{Output()}");
            }

            try
            {
                await using var probe = await ZkClient.ConnectAsync(ConnectString, new ZkClientOptions { ConnectTimeout = TimeSpan.FromSeconds(2) });
                return;
            }
            catch (ZkException) when (started.Elapsed < StartDeadline)
            {
                // Not serving yet: the next attempt waits in ConnectAsync's own back-off.
            }
            catch (ZkException e)
            {
                throw new InvalidOperationException($"Apache ZooKeeper did not serve sessions within {StartDeadline}:\n{Output()}", e);
            }
        }
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_output)
            {
                _output.AppendLine(line);
            }
        }
    }

    private string Output()
    {
        lock (_output)
        {
            return _output.ToString();
        }
    }

    private static int FreePort() => Interop.InteropTools.FreeLoopbackPort();
}
