using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Zk.Embedded;
using Zk.Embedded.Config;
using Zk.Embedded.Metrics;

namespace Zk.Server;

/// <summary>
/// The <c>zk</c> program: <c>zk start [zoo.cfg]</c> runs a peer until Ctrl+C or SIGTERM: standalone, or a member of
/// the ensemble that the zoo.cfg's <c>server.N</c> lines name (over NetMQ).
/// </summary>
internal static class Program
{
    public static Task<int> Main(string[] args) => ZkCommands.RunAsync(args);

    internal static async Task<int> StartAsync(string? configPath)
    {
        ZkPeerOptions options;
        PrometheusMetricsOptions? metrics = null;
        ZooCfg? cfg;
        byte[]? secret = null;
        try
        {
            // The embedded default, as issue-free as ZooKeeper's own sample: 127.0.0.1:2181, data in ./zkdata.
            cfg = configPath is null ? null : LoadConfig(configPath);
            options = cfg?.Options ?? new ZkPeerOptions { ClientPort = 2181, DataDir = "zkdata" };
            options.Validate();
            metrics = cfg?.Metrics;
            metrics?.Validate();
            if (cfg is { IsReplicated: true })
                secret = Replication.ReadSecret(cfg);
        }
        catch (Exception e) when (e is IOException or FormatException or ArgumentException or UnauthorizedAccessException)
        {
            return Fail($"zk: {e.Message}");
        }

        using var loggerFactory = ConsoleLog.CreateFactory();
        var logger = loggerFactory.CreateLogger("zk");
        using var stop = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            stop.Cancel();
        };
        using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(
            System.Runtime.InteropServices.PosixSignal.SIGTERM,
            context =>
            {
                context.Cancel = true;
                stop.Cancel();
            });

        ZkPeer started;
        PrometheusMetricsServer? endpoint = null;
        try
        {
            // ZooKeeper starts its metrics provider before the server, and a port it cannot bind stops the start.
            endpoint = metrics is null ? null : PrometheusMetricsServer.Start(metrics, loggerFactory);
            if (cfg is { IsReplicated: true })
                options = Replication.Join(cfg, options, secret, loggerFactory, logger);
            started = await ZkPeer.StartAsync(options, loggerFactory).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or SocketException or UnauthorizedAccessException or InvalidOperationException)
        {
            // What an operator can act on (files in use by another peer, a port taken, a WAL from an older build):
            // the message, without a stack trace, as for a bad config.
            if (endpoint is not null)
            {
                await endpoint.DisposeAsync().ConfigureAwait(false);
            }

            return Fail($"zk: {e.Message}");
        }

        Exception? fault;
        await using (endpoint)
        await using (var peer = started)
        {
            if (cfg is { IsReplicated: true })
                Replication.LogModes(peer, logger);
            var dataDir = options.DataDir is null ? "(in memory)" : Path.GetFullPath(options.DataDir);
            Log.Running(
                logger,
                dataDir,
                options.TickTime.TotalMilliseconds,
                (options.MinSessionTimeout ?? options.TickTime * 2).TotalMilliseconds,
                (options.MaxSessionTimeout ?? options.TickTime * 20).TotalMilliseconds,
                peer.NodeCount,
                peer.LastZxid);
            if (peer.ClientEndPoint is { } endPoint)
            {
                var where = endPoint.ToString();
                Log.ClientPort(logger, where);
            }
            fault = await RunUntilStoppedAsync(peer, stop.Token).ConfigureAwait(false);
            Log.Stopping(logger, peer.LastZxid);
        }

        Log.Stopped(logger);
        if (fault is not null)
        {
            // As ZooKeeper's standalone server exits with UNEXPECTED_ERROR (1) when its SyncRequestProcessor dies: a
            // supervisor restarts it, and the restart recovers every acknowledged write from the log.
            Console.Error.WriteLine($"zk: the peer stopped serving writes: {fault.Message}");
            return 1;
        }

        return 0;
    }

    /// <summary>Waits for Ctrl+C or SIGTERM (null), or for the peer to stop serving writes (its fault).</summary>
    private static async Task<Exception?> RunUntilStoppedAsync(ZkPeer peer, CancellationToken stop)
    {
        var stopped = Task.Delay(Timeout.Infinite, stop);
        var first = await Task.WhenAny(stopped, peer.Faulted).ConfigureAwait(false);
        return first == peer.Faulted ? await peer.Faulted.ConfigureAwait(false) : null;
    }

    private static ZooCfg LoadConfig(string path)
    {
        var cfg = ZooCfg.Load(path);
        if (cfg.Unused.Count > 0)
        {
            Console.Error.WriteLine($"zk: not used yet from {path}: {string.Join(", ", cfg.Unused)}");
        }

        return cfg;
    }

    /// <summary>zk cli: ZooKeeperMain's command line. Exit codes: 0 done, 1 the command failed, 2 usage or no connection.</summary>
    internal static async Task<int> CliAsync(string server, string[] rest)
    {
        var shell = new Cli.ZkShell(
            async (target, watcher) => await Zk.Embedded.Wire.Client.ZkClient.ConnectAsync(target, new Zk.Embedded.Wire.Client.ZkClientOptions { DefaultWatcher = watcher }).ConfigureAwait(false),
            server,
            Console.Out,
            Console.Error);
        try
        {
            if (rest.Length == 0)
            {
                Console.WriteLine($"Connecting to {server}");
            }

            await shell.ConnectAsync().ConfigureAwait(false);
        }
        catch (Zk.Embedded.Api.ZkException e)
        {
            return Fail($"zk: cannot connect to {server}: {e.Message}");
        }

        try
        {
            if (rest.Length > 0)
            {
                return await shell.RunAsync(string.Join(' ', rest.Select(Quote))).ConfigureAwait(false);
            }

            Console.WriteLine("Welcome to ZooKeeper!");
            while (!shell.Quit)
            {
                var line = Cli.LineEditor.ReadLine(shell.Prompt, shell.History);
                if (line is null)
                {
                    break;
                }

                await shell.RunAsync(line).ConfigureAwait(false);
            }

            return 0;
        }
        finally
        {
            await shell.DisposeAsync().ConfigureAwait(false);
        }

        // Arguments arrive already split by the shell; keep each one whole when the command line is re-read.
        static string Quote(string word) => word.Length == 0 || word.Contains(' ', StringComparison.Ordinal) ? $"'{word}'" : word;
    }

    internal static int Dump(Action dump)
    {
        try
        {
            dump();
            return 0;
        }
        catch (Exception e)
        {
            // Corrupt or locked files: say what and where, without a stack trace.
            return Fail($"zk: {e.Message}");
        }
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine(message);
        return 2;
    }
}
