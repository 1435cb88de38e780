using System.Text;
using Zk.Embedded.Api;
using Zk.Embedded.Consensus;
using Zk.Embedded.Ensemble;
using Zk.Embedded.Tests.Consensus;
using Zk.Embedded.Transport;
using Zk.Transport.InMemory;

namespace Zk.Embedded.Tests.Ensemble;

/// <summary>
/// The driver's outbox over a real in-memory transport: what it sends a peer arrives as frames of messages in the
/// order sent, one frame per flush; frames go after a bounded number of inputs, when full, or at a flush; a message
/// too large for a frame goes alone; a refused frame reports lost client traffic and nothing else.
/// </summary>
public sealed class OutboxTests : IAsyncLifetime
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);
    private const int Bound = 64 * 1024 * 1024;

    private InMemoryNetwork _network = null!;
    private IPeerTransport _sender = null!;
    private IPeerTransport _receiver = null!;
    private readonly List<int> _trafficLost = [];

    public Task InitializeAsync()
    {
        _network = new InMemoryNetwork(new InMemoryNetworkOptions { Seed = 1 });
        _sender = _network.Join(1);
        _receiver = _network.Join(2);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _network.DisposeAsync();

    [Fact]
    public async Task Messages_for_a_peer_wait_in_one_frame_until_the_flush_and_arrive_in_the_order_sent()
    {
        var outbox = new Outbox(_sender, _trafficLost.Add);
        ZabMessage[] sent = [new Proposal(Txn(1), default), new Proposal(Txn(2), new Zxid(1, 1)), new Commit(new Zxid(1, 1)), new Ping(new Zxid(1, 1))];
        foreach (var message in sent)
            Assert.True(outbox.Add(2, MessageCodec.Encode(message), isTraffic: false), $"expected {message} to be taken");

        Assert.False(HasMessage(_receiver), "expected nothing on the wire before the flush");
        outbox.FlushAll();

        var frame = await NextFrameAsync();
        Assert.Equal(sent.Length, frame.Count);
        for (var i = 0; i < sent.Length; i++)
            MessageCodecTests.AssertSame(sent[i], frame[i]);
        outbox.FlushAll();
        Assert.False(HasMessage(_receiver), "expected an empty outbox to send nothing");
    }

    [Fact]
    public async Task A_waiting_frame_goes_after_the_bounded_number_of_inputs_without_a_flush()
    {
        var outbox = new Outbox(_sender, _trafficLost.Add);
        outbox.Add(2, MessageCodec.Encode(new Ping(default)), isTraffic: false);
        for (var i = 1; i < Outbox.MaxHeldInputs; i++)
            outbox.InputHandled();
        Assert.False(HasMessage(_receiver), $"expected the frame to wait for {Outbox.MaxHeldInputs} inputs");

        outbox.InputHandled();
        Assert.Single(await NextFrameAsync());
    }

    [Fact]
    public async Task A_full_frame_goes_before_the_message_that_would_overflow_it_and_an_oversized_message_goes_alone()
    {
        var outbox = new Outbox(_sender, _trafficLost.Add);
        var quarter = new Proposal(Txn(1, Outbox.MaxFrameBytes / 4), default);
        for (var i = 0; i < 4; i++)
            outbox.Add(2, MessageCodec.Encode(quarter), isTraffic: false); // the fourth does not fit beside three

        Assert.Equal(3, (await NextFrameAsync()).Count);
        var huge = new Proposal(Txn(2, Outbox.MaxFrameBytes + 1), default);
        outbox.Add(2, MessageCodec.Encode(huge), isTraffic: false);
        Assert.Single(await NextFrameAsync());               // the fourth quarter, flushed before the huge one
        var alone = await NextFrameAsync();
        Assert.Single(alone);
        Assert.Equal(huge.Txn.Data.Length, ((Proposal)alone[0]).Txn.Data.Length);
    }

    [Fact]
    public async Task Flushing_one_peer_sends_its_frame_and_keeps_the_others_waiting()
    {
        var third = _network.Join(3);
        var outbox = new Outbox(_sender, _trafficLost.Add);
        outbox.Add(2, MessageCodec.Encode(new Ping(default)), isTraffic: false);
        outbox.Add(3, MessageCodec.Encode(new Ping(default)), isTraffic: false);

        outbox.Flush(2);
        Assert.Single(await NextFrameAsync());
        Assert.False(HasMessage(third), "expected peer 3's frame to wait");
        outbox.FlushAll();
        await WaitForAsync(() => HasMessage(third), "expected peer 3's frame after FlushAll");
    }

    [Fact]
    public void A_refused_frame_reports_lost_client_traffic_once_and_a_refused_frame_without_traffic_reports_nothing()
    {
        var outbox = new Outbox(_sender, _trafficLost.Add);
        outbox.Add(9, MessageCodec.Encode(new Ping(default)), isTraffic: false); // no peer 9: the transport refuses
        outbox.FlushAll();
        Assert.Empty(_trafficLost);

        outbox.Add(9, MessageCodec.Encode(new Ping(default)), isTraffic: false);
        outbox.Add(9, MessageCodec.Encode(new ForwardedRequest(new SessionId(7), 1, new byte[] { 1 })), isTraffic: true);
        outbox.FlushAll();
        Assert.Equal([9], _trafficLost);
    }

    [Fact]
    public void A_frame_with_garbage_after_good_messages_keeps_them_and_fails_naming_the_garbage()
    {
        var good = MessageCodec.Encode(new Ack(new Zxid(1, 5)));
        var frame = good.Concat(good).Concat(new byte[] { 0x93, 0x01 }).ToArray();
        var decoded = new List<ZabMessage>();

        var e = Assert.Throws<InvalidDataException>(() => MessageCodec.DecodeFrame(frame, Bound, decoded));
        Assert.Equal(2, decoded.Count);
        Assert.Contains("undecodable consensus message", e.Message);
        Assert.Throws<InvalidDataException>(() => MessageCodec.DecodeFrame(Array.Empty<byte>(), Bound, []));
    }

    private static ConsensusTxn Txn(uint counter, int bytes = 16) => new(new Zxid(1, counter), Encoding.ASCII.GetBytes(new string('x', bytes)));

    private bool HasMessage(IPeerTransport transport)
    {
        while (transport.Events.TryRead(out var e))
        {
            using (e)
            {
                if (e.Kind == TransportEventKind.Message)
                    return true;
            }
        }
        return false;
    }

    private async Task<List<ZabMessage>> NextFrameAsync()
    {
        using var cts = new CancellationTokenSource(Deadline);
        while (true)
        {
            using var e = await _receiver.Events.ReadAsync(cts.Token);
            if (e.Kind != TransportEventKind.Message)
                continue;
            var messages = new List<ZabMessage>();
            MessageCodec.DecodeFrame(e.Payload, Bound, messages);
            return messages;
        }
    }

    private static async Task WaitForAsync(Func<bool> condition, string expected)
    {
        using var cts = new CancellationTokenSource(Deadline);
        while (!condition())
        {
            if (cts.IsCancellationRequested)
                Assert.Fail(expected);
            await Task.Delay(5);
        }
    }
}
