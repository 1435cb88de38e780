using System.Net;
using System.Net.Sockets;

namespace Zk.Embedded.Tests.Interop;

/// <summary>
/// Apache ZooKeeper 3.8 (Debian's package) as a standalone server on a free loopback port, with its zoo.cfg, data and
/// logs in a temp folder. Ready once <c>srvr</c> reports a mode (it says "not currently serving requests" before).
/// Disposing kills the JVM and deletes the folder.
/// </summary>
internal sealed class ApacheZooKeeper : IAsyncDisposable
{
    private readonly ExternalProcess _process;
    private readonly string _folder;

    private ApacheZooKeeper(ExternalProcess process, string folder, IPEndPoint endPoint)
    {
        _process = process;
        _folder = folder;
        ClientEndPoint = endPoint;
    }

    public IPEndPoint ClientEndPoint { get; }

    /// <summary>What the server printed, for failure messages.</summary>
    public string Output => _process.Transcript;

    public static async Task<ApacheZooKeeper> StartAsync(TimeSpan deadline)
    {
        InteropTools.RequireFiles(InteropTools.ZkServer, InteropTools.ZooKeeperJar);

        // The port is free when picked and bound by the JVM a second later; a client socket's ephemeral port can land
        // on it in between (seen once in a full test run). A server that exits before serving gets another port.
        const int Attempts = 3;
        for (var attempt = 1; ; attempt++)
        {
            var server = Launch();
            try
            {
                if (await server.WaitUntilServingAsync(deadline, mayExit: attempt < Attempts))
                {
                    return server;
                }
            }
            catch
            {
                await server.DisposeAsync();
                throw;
            }

            await server.DisposeAsync();
        }
    }

    private static ApacheZooKeeper Launch()
    {
        var folder = Directory.CreateTempSubdirectory("apache-zk-").FullName;
        var port = InteropTools.FreeLoopbackPort();
        var config = Path.Combine(folder, "zoo.cfg");
        File.WriteAllText(config, $"""
            tickTime=2000
            dataDir={Path.Combine(folder, "data")}
            clientPort={port}
            clientPortAddress=127.0.0.1
            admin.enableServer=false
            4lw.commands.whitelist=*
            """);
        var logs = Path.Combine(folder, "logs");
        Directory.CreateDirectory(logs);

        // zkServer.sh execs java in the foreground. Debian's zkEnv.sh sets ZOO_LOG_DIR itself, so the log folder is
        // also passed in JVMFLAGS, which comes later on java's command line and wins.
        var process = ExternalProcess.Start(
            InteropTools.ZkServer,
            ["start-foreground", config],
            new Dictionary<string, string>
            {
                ["ZOO_LOG_DIR"] = logs,
                ["JVMFLAGS"] = $"-Dzookeeper.log.dir={logs} -Xmx256m",
            },
            folder);
        return new ApacheZooKeeper(process, folder, new IPEndPoint(IPAddress.Loopback, port));
    }

    public async ValueTask DisposeAsync()
    {
        await _process.DisposeAsync();
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
            // Left for the OS to clean /tmp.
        }
    }

    /// <summary>True once serving; false when the server exited and <paramref name="mayExit"/> (another port is tried).</summary>
    private async Task<bool> WaitUntilServingAsync(TimeSpan deadline, bool mayExit)
    {
        var limit = DateTime.UtcNow + deadline;
        var last = "no answer yet";
        while (DateTime.UtcNow < limit)
        {
            if (_process.HasExited)
            {
                if (mayExit)
                {
                    return false;
                }

                Assert.Fail($"expected Apache ZooKeeper to start on {ClientEndPoint}, but it exited with {_process.ExitCode}:\n{Output}");
            }

            try
            {
                last = await InteropTools.FourLetterWordAsync(ClientEndPoint, "srvr", TimeSpan.FromSeconds(2));
                if (last.Contains("Mode: standalone", StringComparison.Ordinal))
                {
                    return true;
                }
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException or IOException)
            {
                last = e.Message;
            }

            // A poll, not a wait for time to pass: the JVM gives no signal that it is listening.
            await Task.Delay(TimeSpan.FromMilliseconds(50), TimeProvider.System);
        }

        Assert.Fail($"expected Apache ZooKeeper to serve on {ClientEndPoint} within {deadline}; last srvr: {last}\nserver output:\n{Output}");
        return false;
    }
}
