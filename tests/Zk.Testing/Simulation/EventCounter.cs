using Microsoft.Extensions.Logging;

namespace Zk.Testing.Simulation;

/// <summary>
/// A logger for the real code the simulation runs that only counts one event (by id): what the code under test logs
/// but the history cannot see, such as a forwarded write failed by its answer bound (the client only sees ConnectionLoss).
/// </summary>
internal sealed class EventCounter(int eventId, Action counted) : ILogger
{
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId id, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (id.Id == eventId)
            counted();
    }
}
