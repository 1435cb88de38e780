using System.Text;
using Zk.Embedded.Api;

namespace Zk.Embedded.Tests.Support;

/// <summary>
/// Collects the watch events delivered to its <see cref="Watcher"/> and lets a test wait, with a deadline, until
/// what it saw satisfies a condition. A failed wait says what was expected and lists every event seen.
/// </summary>
internal sealed class EventRecorder
{
    public static readonly TimeSpan DefaultDeadline = TimeSpan.FromSeconds(10);

    private readonly List<WatchedEvent> _events = new();
    private TaskCompletionSource _changed = NewSignal();

    public EventRecorder(string name = "recorder")
    {
        Name = name;
        // One delegate instance for the recorder's lifetime: ZooKeeper identifies watchers by object identity.
        Watcher = Record;
    }

    public string Name { get; }

    /// <summary>The watcher to hand to the API; always the same delegate.</summary>
    public Watcher Watcher { get; }

    public IReadOnlyList<WatchedEvent> Events
    {
        get
        {
            lock (_events)
            {
                return _events.ToArray();
            }
        }
    }

    /// <summary>Events with a node path (state changes left out).</summary>
    public IReadOnlyList<WatchedEvent> NodeEvents => Events.Where(e => e.Type != EventType.None).ToArray();

    public int Count(EventType type, string? path) => Events.Count(e => e.Type == type && e.Path == path);

    /// <summary>Waits until <paramref name="condition"/> holds for the events seen so far, or fails after the deadline.</summary>
    public async Task<IReadOnlyList<WatchedEvent>> WaitForAsync(
        Func<IReadOnlyList<WatchedEvent>, bool> condition, string expectation, TimeSpan? deadline = null)
    {
        var limit = DateTime.UtcNow + (deadline ?? DefaultDeadline);
        while (true)
        {
            Task signal;
            IReadOnlyList<WatchedEvent> seen;
            lock (_events)
            {
                seen = _events.ToArray();
                signal = _changed.Task;
            }

            if (condition(seen))
            {
                return seen;
            }

            var left = limit - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
            {
                Assert.Fail($"{Name}: expected {expectation} within {deadline ?? DefaultDeadline}, but saw {Describe(seen)}");
            }

            await Task.WhenAny(signal, Task.Delay(left, TimeProvider.System)).ConfigureAwait(false);
        }
    }

    /// <summary>Waits for an event of <paramref name="type"/> on <paramref name="path"/>.</summary>
    public Task<IReadOnlyList<WatchedEvent>> WaitForAsync(EventType type, string? path, TimeSpan? deadline = null) =>
        WaitForAsync(events => events.Any(e => e.Type == type && e.Path == path), $"{type} on {path ?? "(no path)"}", deadline);

    /// <summary>Waits for a session state event (type None).</summary>
    public Task<IReadOnlyList<WatchedEvent>> WaitForStateAsync(KeeperState state, TimeSpan? deadline = null) =>
        WaitForAsync(events => events.Any(e => e.Type == EventType.None && e.State == state), $"state {state}", deadline);

    public static string Describe(IReadOnlyList<WatchedEvent> events)
    {
        if (events.Count == 0)
        {
            return "no events";
        }

        // The last 40 at most: a failure message should show the end of a storm, not all of it.
        const int Shown = 40;
        var text = new StringBuilder().Append(events.Count).Append(" event(s)").Append(events.Count > Shown ? $", the last {Shown}: " : ": ");
        foreach (var e in events.Skip(Math.Max(0, events.Count - Shown)))
        {
            text.Append('[').Append(e.Type).Append(' ').Append(e.State).Append(' ').Append(e.Path ?? "-").Append("] ");
        }

        return text.ToString();
    }

    public override string ToString() => $"{Name}: {Describe(Events)}";

    private void Record(WatchedEvent watchedEvent)
    {
        TaskCompletionSource signal;
        lock (_events)
        {
            _events.Add(watchedEvent);
            signal = _changed;
            _changed = NewSignal();
        }

        signal.TrySetResult();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
