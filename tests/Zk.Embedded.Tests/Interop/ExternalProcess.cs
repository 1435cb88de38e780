using System.Diagnostics;
using System.Text;

namespace Zk.Embedded.Tests.Interop;

/// <summary>
/// A program a test runs: stdout and stderr captured (each in its own buffer, and both in one transcript in arrival
/// order), stdin open for commands, every wait bounded by a deadline, and the whole process tree killed on dispose.
/// </summary>
internal sealed class ExternalProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly StringBuilder _transcript = new();
    private readonly object _gate = new();
    private TaskCompletionSource _changed = NewSignal();

    private ExternalProcess(Process process, string description)
    {
        _process = process;
        Description = description;
    }

    public string Description { get; }

    public bool HasExited => _process.HasExited;

    public string StdOut
    {
        get
        {
            lock (_gate)
            {
                return _stdout.ToString();
            }
        }
    }

    public string StdErr
    {
        get
        {
            lock (_gate)
            {
                return _stderr.ToString();
            }
        }
    }

    /// <summary>Both streams in the order lines arrived, for failure messages.</summary>
    public string Transcript
    {
        get
        {
            lock (_gate)
            {
                return _transcript.ToString();
            }
        }
    }

    public static ExternalProcess Start(string fileName, IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null, string? workingDirectory = null)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[key] = value;
        }

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var external = new ExternalProcess(process, $"{fileName} {string.Join(' ', info.ArgumentList)}");
        process.OutputDataReceived += (_, e) => external.Append(e.Data, external._stdout, "");
        process.ErrorDataReceived += (_, e) => external.Append(e.Data, external._stderr, "[stderr] ");
        process.Exited += (_, _) => external.Signal();
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return external;
    }

    /// <summary>Runs a program to the end with <paramref name="stdin"/> as its input; killed (and the test failed) past the deadline.</summary>
    public static async Task<ExternalProcess> RunAsync(
        string fileName, IEnumerable<string> arguments, string stdin, TimeSpan deadline, IReadOnlyDictionary<string, string>? environment = null)
    {
        var process = Start(fileName, arguments, environment);
        await process.WriteAsync(stdin);
        process.CloseInput();
        await process.WaitForExitAsync(deadline);
        return process;
    }

    public int ExitCode => _process.ExitCode;

    public async Task WriteAsync(string text)
    {
        await _process.StandardInput.WriteAsync(text);
        await _process.StandardInput.FlushAsync();
    }

    public Task WriteLineAsync(string line) => WriteAsync(line + "\n");

    public void CloseInput() => _process.StandardInput.Close();

    /// <summary>Waits for the process to exit and its output to drain; past the deadline it is killed and the test fails.</summary>
    public async Task WaitForExitAsync(TimeSpan deadline)
    {
        using var timeout = new CancellationTokenSource(deadline);
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            Kill();
            Assert.Fail($"expected {Description} to finish within {deadline}; it was killed. Output so far:\n{Transcript}");
        }
    }

    /// <summary>Waits until <paramref name="condition"/> (on <see cref="StdOut"/>, <see cref="StdErr"/>) holds, or fails after the deadline.</summary>
    public async Task WaitForOutputAsync(Func<bool> condition, string expectation, TimeSpan deadline)
    {
        var limit = DateTime.UtcNow + deadline;
        while (true)
        {
            Task signal;
            lock (_gate)
            {
                signal = _changed.Task;
            }

            if (condition())
            {
                return;
            }

            var exited = _process.HasExited;
            if (exited)
            {
                // WaitForExit() without a timeout returns once the redirected streams reached their end.
                _process.WaitForExit();
                if (condition())
                {
                    return;
                }
            }

            var left = limit - DateTime.UtcNow;
            if (exited || left <= TimeSpan.Zero)
            {
                var how = exited ? $"it exited with {_process.ExitCode}" : $"nothing within {deadline}";
                Assert.Fail($"expected {expectation} from {Description}, but {how}; it printed:\n{Transcript}");
            }

            await Task.WhenAny(signal, Task.Delay(left, TimeProvider.System));
        }
    }

    public void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // Exited meanwhile.
        }
    }

    public async ValueTask DisposeAsync()
    {
        Kill();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            // Killed; the OS reaps it.
        }

        _process.Dispose();
    }

    private void Append(string? line, StringBuilder stream, string prefix)
    {
        if (line is null)
        {
            Signal();
            return;
        }

        lock (_gate)
        {
            stream.Append(line).Append('\n');
            _transcript.Append(prefix).Append(line).Append('\n');
        }

        Signal();
    }

    private void Signal()
    {
        TaskCompletionSource signal;
        lock (_gate)
        {
            signal = _changed;
            _changed = NewSignal();
        }

        signal.TrySetResult();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
