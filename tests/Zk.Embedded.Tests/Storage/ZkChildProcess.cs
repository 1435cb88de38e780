using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using Zk.Embedded.Tests.Wire;

namespace Zk.Embedded.Tests.Storage;

/// <summary>
/// The <c>zk</c> program (Zk.Server) running <c>zk start zoo.cfg</c> in a child process. <see cref="Kill"/> is
/// SIGKILL on Unix (TerminateProcess on Windows): no shutdown code runs, nothing is flushed. Dispose kills it too,
/// so a failing test leaves no process behind.
/// </summary>
internal sealed class ZkChildProcess : IDisposable
{
    private const int OutputLinesKept = 200;
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();
    private bool _killSent;

    private ZkChildProcess(Process process) => _process = process;

    /// <summary>
    /// zk.dll: beside this test assembly (the test project references Zk.Server, so the build copies it there with
    /// its runtimeconfig and deps), else in Zk.Server's own output (baked in by the test project).
    /// </summary>
    public static string ServerDll
    {
        get
        {
            var beside = Path.Combine(AppContext.BaseDirectory, "zk.dll");
            if (File.Exists(beside) && File.Exists(Path.ChangeExtension(beside, ".runtimeconfig.json")))
            {
                return beside;
            }

            var baked = typeof(ZkChildProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
                .FirstOrDefault(a => a.Key == "ZkServerDll")?.Value;
            Assert.True(baked is not null && File.Exists(baked), $"zk.dll is neither in {AppContext.BaseDirectory} nor at '{baked}': build the solution first (dotnet build Embedded.sln)");
            return baked!;
        }
    }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>The child's last lines of stdout and stderr, for failure messages.</summary>
    public string RecentOutput => string.Join('\n', _output);

    /// <summary>Starts <c>dotnet zk.dll start <paramref name="configPath"/></c> with its output captured.</summary>
    public static ZkChildProcess Start(string configPath, string workingDirectory, IReadOnlyDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo(DotnetHost())
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(ServerDll);
        info.ArgumentList.Add("start");
        info.ArgumentList.Add(configPath);
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[name] = value;
        }

        var process = new Process { StartInfo = info };
        var child = new ZkChildProcess(process);
        process.OutputDataReceived += (_, e) => child.Keep(e.Data);
        process.ErrorDataReceived += (_, e) => child.Keep(e.Data);
        Assert.True(process.Start(), "dotnet zk.dll did not start");
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    /// <summary>
    /// Waits until the child serves its client port: a connection is accepted and answers <c>srvr</c>. Returns the
    /// zxid it reports. Fails if the child exits or the deadline passes.
    /// </summary>
    public async Task<long> WaitUntilServingAsync(IPEndPoint endPoint, TimeSpan deadline)
    {
        var started = Stopwatch.GetTimestamp();
        while (true)
        {
            if (_process.HasExited)
            {
                _process.WaitForExit(); // drains the output
                Assert.Fail($"zk exited with code {_process.ExitCode} before serving:\n{RecentOutput}");
            }

            try
            {
                using var probe = await RawWireClient.OpenAsync(endPoint);
                probe.SendRaw("srvr"u8);
                return ParseSrvr(probe.ReceiveTextToEnd());
            }
            catch (SocketException) when (Stopwatch.GetElapsedTime(started) < deadline)
            {
                // Not listening yet (connection refused) or reset while starting: a condition poll, not a timed wait.
                await Task.Delay(TimeSpan.FromMilliseconds(10), TimeProvider.System);
            }
        }
    }

    /// <summary>Waits (with a deadline) for the child to exit by itself; returns its exit code.</summary>
    public int WaitForExit(TimeSpan deadline)
    {
        Assert.True(_process.WaitForExit(deadline), $"zk (pid {_process.Id}) did not exit within {deadline}:\n{RecentOutput}");
        _process.WaitForExit(); // drains the redirected output
        return _process.ExitCode;
    }

    /// <summary>SIGKILL, without waiting: callable from any thread, at the exact moment a test chooses.</summary>
    public void SendKill()
    {
        Volatile.Write(ref _killSent, true);
        _process.Kill(entireProcessTree: true);
    }

    /// <summary>SIGKILL, then waits (with a deadline) until the process is gone and its output drained.</summary>
    public void Kill()
    {
        if (!Volatile.Read(ref _killSent) && _process.HasExited)
        {
            _process.WaitForExit(); // drains the output
            Assert.Fail($"zk exited by itself with code {_process.ExitCode} before the kill:\n{RecentOutput}");
        }

        if (!_process.HasExited)
        {
            SendKill();
        }

        Assert.True(_process.WaitForExit(TimeSpan.FromSeconds(30)), $"zk (pid {_process.Id}) did not exit after SIGKILL");
        _process.WaitForExit(); // drains the redirected output once the process is gone
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(TimeSpan.FromSeconds(30));
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }

        _process.Dispose();
    }

    /// <summary>Completes when the child writes a line containing <paramref name="text"/> (one watch at a time).</summary>
    public Task WhenOutputAsync(string text)
    {
        var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _watch, new OutputWatch(text, seen));
        if (_output.Any(l => l.Contains(text, StringComparison.Ordinal)))
        {
            seen.TrySetResult();
        }

        return seen.Task;
    }

    private OutputWatch? _watch;

    private sealed record OutputWatch(string Text, TaskCompletionSource Seen);

    private void Keep(string? line)
    {
        if (line is null)
        {
            return;
        }

        if (Volatile.Read(ref _watch) is { } watch && line.Contains(watch.Text, StringComparison.Ordinal))
        {
            watch.Seen.TrySetResult();
        }

        _output.Enqueue(line);
        while (_output.Count > OutputLinesKept && _output.TryDequeue(out _))
        {
        }
    }

    private static long ParseSrvr(string text)
    {
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith("Zxid: 0x", StringComparison.Ordinal))
            {
                return long.Parse(line.AsSpan(8).Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            }
        }

        Assert.Fail($"srvr answer without a Zxid line:\n{text}");
        return 0;
    }

    /// <summary>The dotnet host running this test (DOTNET_HOST_PATH when the SDK set it), else dotnet on PATH.</summary>
    internal static string DotnetHost()
    {
        var fromSdk = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(fromSdk) && File.Exists(fromSdk))
        {
            return fromSdk;
        }

        var self = Environment.ProcessPath;
        return self is not null && Path.GetFileNameWithoutExtension(self) == "dotnet" ? self : "dotnet";
    }
}
