using Zk.Embedded.Transport;

namespace Zk.Transport.InMemory;

/// <summary>How an <see cref="InMemoryNetwork"/> behaves: its clock, its random source, its bounds and its faults.</summary>
public sealed record InMemoryNetworkOptions
{
    /// <summary>Seeds every random fault decision (drops, delays, duplicates); print it in a test so a run can be replayed.</summary>
    public int Seed { get; init; }

    /// <summary>
    /// The clock of message delays. With a fake clock (<c>FakeTimeProvider</c>) driven from one thread, together with
    /// <see cref="Seed"/>, every run is the same: delayed messages arrive when the test advances the clock.
    /// </summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>The bounds every endpoint enforces.</summary>
    public TransportLimits Limits { get; init; } = new();

    /// <summary>Faults on every link that has none of its own (<see cref="InMemoryNetwork.SetFaults(int, int, LinkFaults)"/>).</summary>
    public LinkFaults Faults { get; init; } = LinkFaults.None;
}

/// <summary>
/// Random faults of one direction of a link, decided per message by the network's seeded random source. Delays
/// never reorder one pair's messages (a message is due no earlier than the one before it); they do reorder messages
/// of different pairs, which the transport contract allows.
/// </summary>
public sealed record LinkFaults
{
    /// <summary>No loss, no delay, no duplicates.</summary>
    public static LinkFaults None { get; } = new();

    /// <summary>Chance that a message is lost on the way (silently: the sender's Send still returns true).</summary>
    public double DropProbability { get; init; }

    /// <summary>Shortest delay of a message.</summary>
    public TimeSpan MinDelay { get; init; }

    /// <summary>Longest delay of a message; each message's delay is drawn uniformly between the two.</summary>
    public TimeSpan MaxDelay { get; init; }

    /// <summary>
    /// Chance that a message arrives twice in a row. This breaks the transport contract (which promises no
    /// duplicates, as TCP does) on purpose, to test that a receiver survives a faulty transport; the contract
    /// tests never turn it on.
    /// </summary>
    public double DuplicateProbability { get; init; }

    /// <summary>Throws naming the property that is out of range.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A probability outside [0, 1], or delays negative or inverted.</exception>
    public void Validate()
    {
        if (DropProbability is < 0 or > 1)
            throw new ArgumentOutOfRangeException(nameof(DropProbability), DropProbability, "DropProbability must be within [0, 1]");
        if (DuplicateProbability is < 0 or > 1)
            throw new ArgumentOutOfRangeException(nameof(DuplicateProbability), DuplicateProbability, "DuplicateProbability must be within [0, 1]");
        if (MinDelay < TimeSpan.Zero || MaxDelay < MinDelay)
            throw new ArgumentOutOfRangeException(nameof(MaxDelay), MaxDelay, $"delays must satisfy 0 <= MinDelay ({MinDelay}) <= MaxDelay");
    }
}
