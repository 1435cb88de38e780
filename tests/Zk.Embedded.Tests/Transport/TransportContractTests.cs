using System.Buffers.Binary;
using Zk.Embedded.Transport;

namespace Zk.Embedded.Tests.Transport;

/// <summary>Starts the peers of one test on a transport implementation; disposing it stops them all.</summary>
public interface ITransportCluster : IAsyncDisposable
{
    /// <summary>Starts (or starts again, after its transport was disposed) peer <paramref name="id"/>.</summary>
    ValueTask<IPeerTransport> StartAsync(int id);
}

/// <summary>
/// The rules of <see cref="IPeerTransport"/>, run against every implementation (dotNext's TransportTestSuite): each
/// transport derives a class that says how to start its peers. Waits are on events with a deadline, never sleeps.
/// </summary>
public abstract class TransportContractTests<TCluster> where TCluster : ITransportCluster
{
    /// <summary>How long any one expected event may take: generous, since the machine is shared.</summary>
    protected static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    protected abstract TCluster CreateCluster(TransportLimits limits);

    [Fact]
    public async Task Each_pair_delivers_every_message_in_the_order_sent_while_pairs_interleave()
    {
        const int count = 2000;
        await using var cluster = CreateCluster(new TransportLimits());
        var (a, b, c) = (await cluster.StartAsync(1), await cluster.StartAsync(2), await cluster.StartAsync(3));
        await ConnectedAsync(a, 2);
        await ConnectedAsync(c, 2);

        var senders = new[] { Task.Run(() => SendNumbered(a, 2, count)), Task.Run(() => SendNumbered(c, 2, count)) };
        var next = new Dictionary<int, int> { [1] = 0, [3] = 0 };
        while (next[1] < count || next[3] < count)
        {
            using var e = await NextMessageAsync(b, $"messages {next[1]}/{count} from 1 and {next[3]}/{count} from 3");
            var n = BinaryPrimitives.ReadInt32LittleEndian(e.Payload.Span);
            Assert.True(n == next[e.Peer], $"expected message {next[e.Peer]} from peer {e.Peer}, got {n}: a pair was reordered or lost a message under no pressure");
            next[e.Peer]++;
        }
        Assert.All(await Task.WhenAll(senders), accepted => Assert.Equal(count, accepted));
    }

    [Fact]
    public async Task A_disposed_transport_delivers_nothing_more_and_refuses_sends()
    {
        await using var cluster = CreateCluster(new TransportLimits());
        var (a, b) = (await cluster.StartAsync(1), await cluster.StartAsync(2));
        await ConnectedAsync(a, 2);
        SendNumbered(a, 2, 10);   // left unread in b's queue

        await b.DisposeAsync();

        var completed = await Task.WhenAny(b.Events.Completion, Task.Delay(Deadline));
        Assert.True(completed == b.Events.Completion, "expected the events of a disposed transport to complete");
        Assert.False(b.Events.TryRead(out var late), $"expected nothing delivered after dispose, got {late}");
        Assert.False(b.Send(1, [1, 2, 3]), "expected Send on a disposed transport to return false");
    }

    [Fact]
    public async Task A_receiver_that_never_reads_holds_at_most_a_queue_of_messages()
    {
        var limits = new TransportLimits { QueueMessages = 64, QueueBytes = 64 * 1024 };
        await using var cluster = CreateCluster(limits);
        var (a, b) = (await cluster.StartAsync(1), await cluster.StartAsync(2));
        await ConnectedAsync(b, 1);
        await ConnectedAsync(a, 2);

        var burst = Task.Run(() => SendNumbered(a, 2, 20_000, size: 1024));
        Assert.True(await Task.WhenAny(burst, Task.Delay(Deadline)) == burst, "expected 20,000 sends to a peer that never reads to return, not block");
        // Over sockets the messages are still on their way when Send returns: wait until the receiver's queue is full,
        // then take exactly what it holds (reading on while more arrive would be a receiver that reads).
        await UntilAsync(() => b.Events.Count >= limits.QueueMessages, $"the receiver's queue to fill to {limits.QueueMessages} messages");
        var received = new List<int>();
        for (var held = b.Events.Count; held > 0 && b.Events.TryRead(out var e); held--)
        {
            using (e)
            {
                if (e.Kind == TransportEventKind.Message)
                    received.Add(BinaryPrimitives.ReadInt32LittleEndian(e.Payload.Span));
            }
        }
        // The receiver's queue plus, at most, the sender's queue for it (which a transport may still deliver later).
        Assert.True(received.Count <= 2 * limits.QueueMessages, $"expected at most {2 * limits.QueueMessages} messages held for a receiver that never read, found {received.Count}");
        Assert.True(received.Count > 0, "expected the receiver's queue to hold the first messages");
        for (var i = 1; i < received.Count; i++)
            Assert.True(received[i] > received[i - 1], $"expected the kept messages in send order, got {received[i - 1]} then {received[i]}");
    }

    [Fact]
    public async Task Sending_far_more_than_the_queues_hold_to_a_receiver_that_never_reads_does_not_grow_memory()
    {
        const int messages = 64 * 1024, size = 1024;   // 64 MiB sent in all
        var limits = new TransportLimits { QueueMessages = 256, QueueBytes = 256 * 1024 };
        await using var cluster = CreateCluster(limits);
        var (a, b) = (await cluster.StartAsync(1), await cluster.StartAsync(2));
        await ConnectedAsync(a, 2);
        var before = GC.GetTotalMemory(forceFullCollection: true);

        await Task.Run(() => SendNumbered(a, 2, messages, size));
        var grown = GC.GetTotalMemory(forceFullCollection: true) - before;

        // Both queues full is about 0.5 MiB; 16 MiB leaves room for the runtime's own allocations.
        Assert.True(grown < 16 * 1024 * 1024, $"expected memory to stay within the queue bounds after {messages * size / (1024 * 1024)} MiB sent to a peer that never reads, but it grew by {grown / 1024} KiB");
        GC.KeepAlive(b);
    }

    [Fact]
    public async Task A_peer_that_stops_is_reported_disconnected_and_connected_again_when_it_returns()
    {
        await using var cluster = CreateCluster(new TransportLimits());
        var a = await cluster.StartAsync(1);
        var b = await cluster.StartAsync(2);
        await ConnectedAsync(a, 2);

        await b.DisposeAsync();
        await NoticeAsync(a, TransportEventKind.Disconnected, 2);

        var again = await cluster.StartAsync(2);
        await NoticeAsync(a, TransportEventKind.Connected, 2);
        await ConnectedAsync(again, 1);
        Assert.True(a.Send(2, [42]), "expected a send to the returned peer to be queued");
        using var e = await NextMessageAsync(again, "the first message to the returned peer");
        Assert.Equal(42, e.Payload.Span[0]);
    }

    [Fact]
    public async Task A_message_as_long_as_the_bound_arrives_intact_even_beyond_the_queue_bytes()
    {
        var limits = new TransportLimits { MaxMessageBytes = 1024 * 1024, QueueBytes = 64 * 1024 };
        await using var cluster = CreateCluster(limits);
        var (a, b) = (await cluster.StartAsync(1), await cluster.StartAsync(2));
        await ConnectedAsync(a, 2);
        var big = new byte[limits.MaxMessageBytes];
        new Random(1311).NextBytes(big);

        Assert.True(a.Send(2, big), "expected a message of exactly MaxMessageBytes to be queued on an empty queue");
        using var e = await NextMessageAsync(b, "the large message");
        Assert.True(e.Payload.Span.SequenceEqual(big), $"expected the {big.Length} bytes sent, got {e.Payload.Length} different bytes");
    }

    [Fact]
    public async Task A_message_over_the_bound_is_refused_and_the_pair_goes_on()
    {
        var limits = new TransportLimits { MaxMessageBytes = 4096 };
        await using var cluster = CreateCluster(limits);
        var (a, b) = (await cluster.StartAsync(1), await cluster.StartAsync(2));
        await ConnectedAsync(a, 2);

        var refused = Assert.Throws<ArgumentOutOfRangeException>(() => a.Send(2, new byte[4097]));
        Assert.Contains("4097", refused.Message, StringComparison.Ordinal);
        Assert.True(a.Send(2, [7]), "expected the next message to be queued");
        using var e = await NextMessageAsync(b, "the message after the refused one");
        Assert.Equal([7], e.Payload.ToArray());
    }

    [Fact]
    public async Task The_sender_may_reuse_its_buffer_once_send_returns_and_may_not_send_to_itself()
    {
        await using var cluster = CreateCluster(new TransportLimits());
        var (a, b) = (await cluster.StartAsync(1), await cluster.StartAsync(2));
        await ConnectedAsync(a, 2);
        var buffer = new byte[] { 1, 2, 3 };

        Assert.True(a.Send(2, buffer));
        buffer[0] = 99;
        using var e = await NextMessageAsync(b, "the message");
        Assert.Equal([1, 2, 3], e.Payload.ToArray());
        Assert.Throws<ArgumentException>(() => a.Send(1, buffer));
    }

    /// <summary>Sends 0..count-1 as little-endian ints (padded to <paramref name="size"/>); returns how many Send queued.</summary>
    protected static int SendNumbered(IPeerTransport from, int to, int count, int size = 4)
    {
        var buffer = new byte[size];
        var accepted = 0;
        for (var i = 0; i < count; i++)
        {
            BinaryPrimitives.WriteInt32LittleEndian(buffer, i);
            if (from.Send(to, buffer))
                accepted++;
        }
        return accepted;
    }

    protected static async Task<TransportEvent> NextEventAsync(IPeerTransport transport, string expectation)
    {
        using var cts = new CancellationTokenSource(Deadline);
        try
        {
            return await transport.Events.ReadAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"expected {expectation} at peer {transport.LocalId} within {Deadline}");
            throw;
        }
    }

    protected static async Task<TransportEvent> NextMessageAsync(IPeerTransport transport, string expectation)
    {
        while (true)
        {
            var e = await NextEventAsync(transport, expectation);
            if (e.Kind == TransportEventKind.Message)
                return e;
        }
    }

    /// <summary>Waits for a notice about <paramref name="peer"/>, skipping anything else.</summary>
    protected static async Task NoticeAsync(IPeerTransport transport, TransportEventKind kind, int peer)
    {
        while (true)
        {
            using var e = await NextEventAsync(transport, $"{kind} of peer {peer}");
            if (e.Kind == kind && e.Peer == peer)
                return;
        }
    }

    /// <summary>Waits until <paramref name="condition"/> holds, checking every few milliseconds, failing after <see cref="Deadline"/>.</summary>
    protected static async Task UntilAsync(Func<bool> condition, string expectation)
    {
        var deadline = DateTime.UtcNow + Deadline;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"expected {expectation} within {Deadline}");
            await Task.Delay(5);
        }
    }

    protected static Task ConnectedAsync(IPeerTransport transport, int peer) => NoticeAsync(transport, TransportEventKind.Connected, peer);
}
