namespace Zk.Embedded.Tests.Consensus.Harness;

/// <summary>The simulation's virtual time for the real code that reads a clock (a txn's time): one millisecond per scheduler step.</summary>
internal sealed class SimClock(Func<long> steps) : TimeProvider
{
    public override DateTimeOffset GetUtcNow() => DateTimeOffset.UnixEpoch.AddMilliseconds(steps());

    public override long GetTimestamp() => steps();

    public override long TimestampFrequency => 1000;
}
