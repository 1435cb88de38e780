using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Zk.Embedded.Tests.Support;

/// <summary>Collects every log line of the loggers it makes, in order, for a test to print when it fails.</summary>
internal sealed class TraceLogger : ILoggerProvider, ILoggerFactory
{
    private readonly ConcurrentQueue<string> _lines = new();
    private readonly long _start = System.Diagnostics.Stopwatch.GetTimestamp();

    public IReadOnlyCollection<string> Lines => _lines;

    /// <summary>The last <paramref name="count"/> lines, one per line.</summary>
    public string Tail(int count = 200) => string.Join(Environment.NewLine, _lines.TakeLast(count));

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public void Dispose()
    {
    }

    private sealed class Logger(TraceLogger owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Debug;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var ms = System.Diagnostics.Stopwatch.GetElapsedTime(owner._start).TotalMilliseconds;
            owner._lines.Enqueue($"{ms,8:F0} ms {logLevel,-11} {category}: {formatter(state, exception)}{(exception is null ? "" : $" [{exception.GetType().Name}: {exception.Message}]")}");
        }
    }
}
