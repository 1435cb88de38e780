using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Zk.Embedded.Transport;

namespace Zk.Embedded.Tests.Transport.NetMq;

/// <summary>Waits and probes the NetMQ tests share: events with a deadline, the kernel's socket table, log events.</summary>
internal static class NetMqTestSupport
{
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    public static async Task UntilAsync(Func<bool> condition, string expectation, TimeSpan? within = null)
    {
        var limit = within ?? Deadline;
        var deadline = DateTime.UtcNow + limit;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"expected {expectation} within {limit}");
            await Task.Delay(5);
        }
    }

    /// <summary>Reads events until one matches, failing after the deadline; what it skips is disposed and returned.</summary>
    public static async Task<TransportEvent> NextAsync(IPeerTransport transport, Func<TransportEvent, bool> match, string expectation, List<TransportEvent>? skipped = null)
    {
        using var cts = new CancellationTokenSource(Deadline);
        try
        {
            while (true)
            {
                var e = await transport.Events.ReadAsync(cts.Token);
                if (match(e))
                    return e;
                skipped?.Add(e);
                e.Dispose();
            }
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"expected {expectation} at peer {transport.LocalId} within {Deadline}");
            throw;
        }
    }

    public static Task<TransportEvent> NoticeAsync(IPeerTransport transport, TransportEventKind kind, int peer) =>
        NextAsync(transport, e => e.Kind == kind && e.Peer == peer, $"{kind} of peer {peer}");

    /// <summary>TCP sockets of this machine on <paramref name="port"/> (either end) in a state other than TIME_WAIT, from /proc/net/tcp{,6}.</summary>
    public static List<string> OpenSockets(int port)
    {
        var found = new List<string>();
        foreach (var table in new[] { "/proc/net/tcp", "/proc/net/tcp6" })
        {
            if (!File.Exists(table))
                continue;
            foreach (var line in File.ReadLines(table).Skip(1))
            {
                var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                var (local, remote, state) = (PortOf(f[1]), PortOf(f[2]), f[3]);
                if ((local == port || remote == port) && state != "06")   // 06 = TIME_WAIT: the kernel's, no socket of ours
                    found.Add($"{f[1]} -> {f[2]} state {state}");
            }
        }
        return found;
    }

    private static int PortOf(string address) => int.Parse(address[(address.IndexOf(':') + 1)..], NumberStyles.HexNumber);
}

/// <summary>A logger that keeps each event's id, for waiting on what a transport reported.</summary>
internal sealed class EventLog : ILogger
{
    private readonly ConcurrentQueue<(DateTime Time, int Id, string Message)> _events = new();

    public bool Saw(int eventId, int times = 1) => Count(eventId) >= times;

    public int Count(int eventId) => _events.Count(e => e.Id == eventId);

    public string Dump() => string.Join("\n", _events.Select(e => $"{e.Time:HH:mm:ss.fff} {e.Id}: {e.Message}"));

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        _events.Enqueue((DateTime.UtcNow, eventId.Id, formatter(state, exception)));
}

/// <summary>A logger that throws when asked to log one event id, as a faulty host logger might.</summary>
internal sealed class ThrowingLogger(int eventId) : ILogger
{
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId id, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (id.Id == eventId)
            throw new InvalidOperationException($"the host's logger failed on event {eventId}");
    }
}
