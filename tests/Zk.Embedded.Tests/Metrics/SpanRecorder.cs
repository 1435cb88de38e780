using System.Collections.Concurrent;
using System.Diagnostics;

namespace Zk.Embedded.Tests.Metrics;

/// <summary>Records every stopped span of the Zk.Embedded ActivitySource while it lives (all of them sampled).</summary>
internal sealed class SpanRecorder : IDisposable
{
    private readonly ConcurrentQueue<Activity> _stopped = new();
    private readonly ActivityListener _listener;

    public SpanRecorder()
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "Zk.Embedded",
            Sample = static (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = _stopped.Enqueue,
        };
        ActivitySource.AddActivityListener(_listener);
    }

    /// <summary>The spans stopped so far, other tests' included: pick yours out by their tags.</summary>
    public IEnumerable<Activity> Stopped => _stopped;

    public void Dispose() => _listener.Dispose();
}
