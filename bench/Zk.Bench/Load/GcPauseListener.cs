using System.Diagnostics.Tracing;

namespace Zk.Bench.Load;

/// <summary>
/// The runtime's GC pauses, from its own events (GCSuspendEEBegin to GCRestartEEEnd): the longest pause and the
/// time paused, so a run's max latency can be told apart from a pause that stopped every thread. Only the GC keyword
/// at Informational is enabled (a few events per collection).
/// </summary>
internal sealed class GcPauseListener : EventListener
{
    private const int RestartEEEnd = 3;
    private const int SuspendEEBegin = 9;

    private readonly object _gate = new();
    private DateTime _suspendedAt;
    private TimeSpan _longest;
    private TimeSpan _total;

    /// <summary>The longest pause and the sum of pauses since the last call; resets both.</summary>
    public (TimeSpan Longest, TimeSpan Total) Take()
    {
        lock (_gate)
        {
            var taken = (_longest, _total);
            _longest = TimeSpan.Zero;
            _total = TimeSpan.Zero;
            return taken;
        }
    }

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == "Microsoft-Windows-DotNETRuntime")
        {
            EnableEvents(eventSource, EventLevel.Informational, (EventKeywords)0x1 /* GC */);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs eventData)
    {
        lock (_gate)
        {
            switch (eventData.EventId)
            {
                case SuspendEEBegin:
                    _suspendedAt = eventData.TimeStamp;
                    break;
                case RestartEEEnd when _suspendedAt != default:
                    var paused = eventData.TimeStamp - _suspendedAt;
                    _suspendedAt = default;
                    _total += paused;
                    if (paused > _longest)
                    {
                        _longest = paused;
                    }

                    break;
            }
        }
    }
}
