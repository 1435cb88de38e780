using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;

namespace Zk.Server;

/// <summary>
/// The zk program's log: one line per message on stdout, Information and above, in the format of
/// Microsoft.Extensions.Logging.Console's simple formatter with <c>SingleLine</c> and a <c>HH:mm:ss.fff</c> timestamp
/// (<c>12:00:00.000 info: Zk.Embedded.Peer[3001] Recovered ...</c>).
/// </summary>
/// <remarks>
/// Ours rather than the console provider because building that provider (dependency injection, options binding,
/// three formatters) took ~45 ms of every start, on the restart's critical path (docs/performance.md "Recovery").
/// A line is written whole, under a lock, when it is logged: the program logs a few lines per role change or fault,
/// never per request.
/// </remarks>
internal sealed class ConsoleLog(TextWriter output) : ILoggerProvider
{
    private readonly Lock _gate = new();

    /// <summary>A factory that logs to standard output.</summary>
    public static ILoggerFactory CreateFactory() =>
        new LoggerFactory([new ConsoleLog(Console.Out)], new LoggerFilterOptions { MinLevel = LogLevel.Information });

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private void Write(string category, LogLevel level, EventId eventId, string message, Exception? exception)
    {
        var line = new StringBuilder(64 + category.Length + message.Length)
            .Append(DateTime.Now.ToString("HH:mm:ss.fff ", CultureInfo.InvariantCulture))
            .Append(LevelName(level))
            .Append(": ")
            .Append(category)
            .Append('[')
            .Append(eventId.Id)
            .Append("] ");
        AppendSingleLine(line, message);
        if (exception is not null)
        {
            line.Append(' ');
            AppendSingleLine(line, exception.ToString());
        }

        line.Append('\n');
        lock (_gate)
        {
            output.Write(line.ToString());
            output.Flush();
        }
    }

    private static void AppendSingleLine(StringBuilder line, string text) =>
        line.Append(text.Contains('\n') ? text.Replace("\r\n", " ").Replace('\n', ' ') : text);

    private static string LevelName(LogLevel level) => level switch
    {
        LogLevel.Trace => "trce",
        LogLevel.Debug => "dbug",
        LogLevel.Information => "info",
        LogLevel.Warning => "warn",
        LogLevel.Error => "fail",
        LogLevel.Critical => "crit",
        _ => level.ToString(),
    };

    private sealed class Logger(ConsoleLog log, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                log.Write(category, logLevel, eventId, formatter(state, exception), exception);
            }
        }
    }
}
