using System.Diagnostics;
using Zk.Embedded.Api;

namespace Zk.Embedded.Tests.Model;

/// <summary>The watch events one session received, in delivery order (session state events left out).</summary>
internal sealed class EventLog
{
    private readonly List<ModelEvent> _events = [];
    private readonly SemaphoreSlim _arrived = new(0);

    public int Count
    {
        get
        {
            lock (_events)
            {
                return _events.Count;
            }
        }
    }

    public void Add(WatchedEvent watchedEvent)
    {
        if (watchedEvent.Type == EventType.None || watchedEvent.Path is null)
        {
            return;
        }

        lock (_events)
        {
            _events.Add(new ModelEvent(watchedEvent.Type, watchedEvent.Path));
        }

        _arrived.Release();
    }

    public ModelEvent[] Snapshot()
    {
        lock (_events)
        {
            return [.. _events];
        }
    }

    /// <summary>Waits until at least <paramref name="count"/> events arrived, or the deadline passes.</summary>
    public async Task WaitForCountAsync(int count, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (Count < count && clock.Elapsed < timeout)
        {
            await _arrived.WaitAsync(timeout - clock.Elapsed).ConfigureAwait(false);
        }
    }
}

/// <summary>A live session of a scenario, with the events it received and the events the model predicts for it.</summary>
internal sealed class SessionSlot(IZooKeeper zk, EventLog log)
{
    public IZooKeeper Zk { get; } = zk;

    public EventLog Log { get; } = log;

    public Watcher Watcher { get; } = log.Add;

    public List<ModelEvent> Expected { get; } = [];

    public long Id => Zk.SessionId;
}
