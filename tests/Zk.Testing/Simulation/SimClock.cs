namespace Zk.Testing.Simulation;

/// <summary>
/// The simulation's virtual time for the real code that reads a clock (a txn's time) or sets timers (a session's
/// heartbeat, <c>Task.Delay</c> with this provider): one millisecond per scheduler step. Timers fire on the
/// simulation's thread when it calls <see cref="Fire"/>, due ones in the order they were made, so a seed replays them.
/// </summary>
internal sealed class SimClock(Func<long> steps) : TimeProvider
{
    private readonly List<SimTimer> _timers = [];

    public override DateTimeOffset GetUtcNow() => DateTimeOffset.UnixEpoch.AddMilliseconds(steps());

    public override long GetTimestamp() => steps();

    public override long TimestampFrequency => 1000;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new SimTimer(this, callback, state);
        _timers.Add(timer);
        timer.Change(dueTime, period);
        return timer;
    }

    /// <summary>Runs every timer due by now (a periodic one once per step at most), then forgets disposed ones.</summary>
    public void Fire()
    {
        var now = steps();
        for (var i = 0; i < _timers.Count; i++)
            _timers[i].FireIfDue(now);
        _timers.RemoveAll(t => t.Disposed);
    }

    private sealed class SimTimer(SimClock clock, TimerCallback callback, object? state) : ITimer
    {
        private long _dueAt = -1;   // the step it fires at; -1: stopped
        private long _period;       // in steps; 0: once

        public bool Disposed { get; private set; }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            if (Disposed)
                return false;
            _dueAt = dueTime == Timeout.InfiniteTimeSpan ? -1 : clock.GetTimestamp() + Math.Max(0, (long)dueTime.TotalMilliseconds);
            _period = period == Timeout.InfiniteTimeSpan ? 0 : Math.Max(1, (long)period.TotalMilliseconds);
            return true;
        }

        public void FireIfDue(long now)
        {
            if (Disposed || _dueAt < 0 || _dueAt > now)
                return;
            _dueAt = _period > 0 ? now + _period : -1;
            callback(state);
        }

        public void Dispose() => Disposed = true;

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
