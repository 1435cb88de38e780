using System.Buffers.Binary;
using Microsoft.Extensions.Time.Testing;
using Zk.Embedded.Transport;
using Zk.Transport.InMemory;

namespace Zk.Embedded.Tests.Transport;

/// <summary>
/// The in-memory network's faults, each on demand or by seed. With no delay configured a message is delivered inside
/// Send, and delays wait for a fake clock, so every case here runs on the test's thread and is exact.
/// </summary>
public sealed class InMemoryNetworkTests
{
    [Fact]
    public async Task A_partition_loses_what_crosses_it_both_ways_silently_until_healed()
    {
        await using var network = new InMemoryNetwork();
        var (a, b, c) = (network.Join(1), network.Join(2), network.Join(3));
        Take(a); Take(b); Take(c);   // the Connected notices

        network.Partition([1]);
        Send(a, 2, 1); Send(b, 1, 2); Send(b, 3, 3);
        Assert.Empty(Take(a));
        Assert.Empty(Take(b));
        Assert.Equal(["message 2:3"], Take(c));

        network.Heal();
        Send(a, 2, 4);
        Assert.Equal(["message 1:4"], Take(b));
        Assert.Equal(2, network.Lost);
    }

    [Fact]
    public async Task A_one_way_block_loses_only_that_direction()
    {
        await using var network = new InMemoryNetwork();
        var (a, b) = (network.Join(1), network.Join(2));
        Take(a); Take(b);

        network.Block(1, 2);
        Send(a, 2, 1); Send(b, 1, 2);
        Assert.Empty(Take(b));
        Assert.Equal(["message 2:2"], Take(a));
    }

    [Fact]
    public async Task A_paused_peer_gets_nothing_until_resumed_then_what_its_bounded_queue_kept_in_order()
    {
        await using var network = new InMemoryNetwork(new InMemoryNetworkOptions { Limits = new TransportLimits { QueueMessages = 8 } });
        var (a, b) = (network.Join(1), network.Join(2));
        Take(a); Take(b);

        network.Pause(2);
        var accepted = 0;
        for (var i = 0; i < 20; i++)
            accepted += Send(a, 2, i) ? 1 : 0;
        Assert.Empty(Take(b));
        Assert.Equal(8, accepted);
        Assert.Equal(12, network.Overflowed);

        network.Resume(2);
        Assert.Equal(Enumerable.Range(0, 8).Select(i => $"message 1:{i}"), Take(b));
    }

    [Fact]
    public async Task A_crashed_peer_is_reported_at_once_loses_its_queue_and_can_join_again()
    {
        await using var network = new InMemoryNetwork();
        var (a, b) = (network.Join(1), network.Join(2));
        Assert.Equal(["Connected 2"], Take(a));
        Send(a, 2, 1);

        network.Crash(2);
        Assert.Equal(["Disconnected 2"], Take(a));
        Assert.True(b.Events.Completion.IsCompleted, "expected the crashed peer's events to be completed");
        Assert.False(Send(a, 2, 2), "expected a send to a crashed peer to be dropped at once");

        var again = network.Join(2);
        Assert.Equal(["Connected 2"], Take(a));
        Assert.Equal(["Connected 1"], Take(again));
        Send(a, 2, 3);
        Assert.Equal(["message 1:3"], Take(again));
        Assert.Throws<InvalidOperationException>(() => network.Join(2));
    }

    [Fact]
    public async Task A_reset_connection_loses_what_is_in_flight_and_both_sides_hear_it()
    {
        var time = new FakeTimeProvider();
        await using var network = new InMemoryNetwork(new InMemoryNetworkOptions { Time = time, Faults = new LinkFaults { MinDelay = TimeSpan.FromSeconds(1), MaxDelay = TimeSpan.FromSeconds(1) } });
        var (a, b) = (network.Join(1), network.Join(2));
        Take(a); Take(b);
        Send(a, 2, 1);

        network.ResetConnection(1, 2);
        time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(["Disconnected 2", "Connected 2"], Take(a));
        Assert.Equal(["Disconnected 1", "Connected 1"], Take(b));
        Assert.Equal(1, network.Lost);
    }

    [Fact]
    public async Task Delays_wait_for_the_clock_reorder_pairs_but_never_a_pair()
    {
        var time = new FakeTimeProvider();
        var faults = new LinkFaults { MaxDelay = TimeSpan.FromMilliseconds(50) };
        await using var network = new InMemoryNetwork(new InMemoryNetworkOptions { Seed = 5, Time = time, Faults = faults });
        var (a, b, c) = (network.Join(1), network.Join(2), network.Join(3));
        Take(a); Take(b); Take(c);

        for (var i = 0; i < 100; i++)
        {
            Send(a, 2, i);
            Send(c, 2, i);
        }
        var early = Take(b);
        Assert.True(early.Count < 200, "expected delayed messages to wait for the clock");
        time.Advance(TimeSpan.FromMilliseconds(50));

        var all = early.Concat(Take(b)).ToList();
        Assert.Equal(Numbered(1, 100), all.Where(m => m.StartsWith("message 1:", StringComparison.Ordinal)));
        Assert.Equal(Numbered(3, 100), all.Where(m => m.StartsWith("message 3:", StringComparison.Ordinal)));
        var sendOrder = Enumerable.Range(0, 100).SelectMany(i => new[] { $"message 1:{i}", $"message 3:{i}" });
        Assert.NotEqual(sendOrder, all);   // the two pairs interleave otherwise than sent
    }

    private static IEnumerable<string> Numbered(int from, int count) => Enumerable.Range(0, count).Select(i => $"message {from}:{i}");

    [Fact]
    public async Task The_same_seed_loses_and_delays_the_same_messages()
    {
        Assert.Equal(await LossyRunAsync(seed: 21), await LossyRunAsync(seed: 21));
        Assert.NotEqual(await LossyRunAsync(seed: 21), await LossyRunAsync(seed: 22));
    }

    [Fact]
    public async Task Duplicates_when_asked_arrive_twice_in_a_row()
    {
        await using var network = new InMemoryNetwork(new InMemoryNetworkOptions { Faults = new LinkFaults { DuplicateProbability = 1 } });
        var (a, b) = (network.Join(1), network.Join(2));
        Take(a); Take(b);

        Send(a, 2, 1); Send(a, 2, 2);
        Assert.Equal(["message 1:1", "message 1:1", "message 1:2", "message 1:2"], Take(b));
    }

    [Fact]
    public void Fault_settings_out_of_range_are_refused_naming_the_setting()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new InMemoryNetwork(new InMemoryNetworkOptions { Faults = new LinkFaults { DropProbability = 2 } }));
        Assert.Equal("DropProbability", e.ParamName);
        e = Assert.Throws<ArgumentOutOfRangeException>(() => new InMemoryNetwork(new InMemoryNetworkOptions { Limits = new TransportLimits { QueueMessages = 0 } }));
        Assert.Equal("QueueMessages", e.ParamName);
    }

    private static async Task<string> LossyRunAsync(int seed)
    {
        var time = new FakeTimeProvider();
        var faults = new LinkFaults { DropProbability = 0.3, MaxDelay = TimeSpan.FromMilliseconds(20) };
        await using var network = new InMemoryNetwork(new InMemoryNetworkOptions { Seed = seed, Time = time, Faults = faults });
        var (a, b, c) = (network.Join(1), network.Join(2), network.Join(3));
        var seen = new List<string>();
        for (var i = 0; i < 50; i++)
        {
            Send(a, 2, i);
            Send(c, 2, i);
            time.Advance(TimeSpan.FromMilliseconds(1));
            seen.AddRange(Take(b));
        }
        time.Advance(TimeSpan.FromMilliseconds(20));
        seen.AddRange(Take(b));
        return string.Join(' ', seen);
    }

    private static bool Send(IPeerTransport from, int to, int n)
    {
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(bytes, n);
        return from.Send(to, bytes);
    }

    /// <summary>Everything queued for <paramref name="transport"/> now, as "message from:n" or "Kind peer".</summary>
    private static List<string> Take(IPeerTransport transport)
    {
        var taken = new List<string>();
        while (transport.Events.TryRead(out var e))
        {
            using (e)
                taken.Add(e.Kind == TransportEventKind.Message ? $"message {e.Peer}:{BinaryPrimitives.ReadInt32LittleEndian(e.Payload.Span)}" : $"{e.Kind} {e.Peer}");
        }
        return taken;
    }
}
