using Xunit.Abstractions;
using Zk.Embedded.Api;
using Zk.Embedded.Consensus;

namespace Zk.Embedded.Tests.Consensus;

/// <summary>
/// Every consensus message survives MessagePack and back; the kind numbers and a few encodings are frozen (they are on
/// the wire between peers of different builds); hostile input is refused with InvalidDataException and no large
/// allocation.
/// </summary>
public sealed class MessageCodecTests(ITestOutputHelper output)
{
    private const int Bound = 1024 * 1024;

    /// <summary>One of each kind, with edge values (Vote.None, empty data, the largest epochs).</summary>
    internal static IReadOnlyList<ZabMessage> Samples { get; } =
    [
        new Notification(long.MaxValue, new Vote(3, new Zxid(0x500000007), 5), ServerState.Leading),
        new Notification(0, Vote.None, ServerState.Observing),
        new LearnerInfo(uint.MaxValue, IsObserver: false),
        new LearnerInfo(4, IsObserver: true),
        new LeaderInfo(9),
        new AckEpoch(9, -1, new Zxid(0x800000003)),
        new AckEpoch(0, long.MaxValue, default),
        new Diff(new Zxid(0x700000002)),
        new Trunc(new Zxid(long.MinValue)),
        new Snap(new ConsensusSnapshot(new Zxid(0x300000001), new byte[] { 1, 2, 3 })),
        new Snap(new ConsensusSnapshot(default, ReadOnlyMemory<byte>.Empty)),
        new Proposal(new ConsensusTxn(new Zxid(0x200000001), new byte[300]), new Zxid(0x100000009)),
        new Proposal(new ConsensusTxn(new Zxid(1), ReadOnlyMemory<byte>.Empty), default),
        new NewLeader(2, new Zxid(0x100000009), new Zxid(0x10000000a)),
        new AckNewLeader(2),
        new UpToDate(2),
        new Ack(new Zxid(-1)),
        new Commit(new Zxid(0x200000001)),
        new Inform(new ConsensusTxn(new Zxid(0x200000002), new byte[] { 0xc1 }), new Zxid(0x200000001)),
        new Ping(new Zxid(0x200000002)),
        new ForwardedRequest(new SessionId(0x100000001), int.MaxValue, new byte[] { 1, 2 }, 638_999_999_999_999_999, 42),
        new ForwardedReply(new SessionId(-1), 0, ReadOnlyMemory<byte>.Empty, 1, long.MaxValue),
        new ForwardMark(638_999_999_999_999_999, 0),
        new ForwardMarkAck(1, 2, Intact: false, 3),
        new SessionActivity(new byte[16]),
        new SessionClaim(new SessionId(0x100000001), 638_999_999_999_999_999),
        new SessionClaimAck(new SessionId(-1), 1, Held: false),
        new SnapChunk(new Zxid(0x300000001), 65_536, 1 << 30, new byte[] { 7, 8 }),
        new SnapChunkAck(new Zxid(0x300000001), 65_538),
        new ReadIndexRequest(long.MinValue),
        new ReadIndexReply(7, new Zxid(0x200000002)),
        new ReadProbe(long.MaxValue),
        new ReadProbeAck(0),
    ];

    public static TheoryData<int> SampleIndexes()
    {
        var data = new TheoryData<int>();
        for (var i = 0; i < Samples.Count; i++)
            data.Add(i);
        return data;
    }

    [Theory]
    [MemberData(nameof(SampleIndexes))]
    public void Every_message_kind_round_trips(int index)
    {
        var message = Samples[index];
        var decoded = MessageCodec.Decode(MessageCodec.Encode(message), Bound);
        AssertSame(message, decoded);
    }

    [Fact]
    public void Random_messages_round_trip()
    {
        var seed = int.TryParse(Environment.GetEnvironmentVariable("ZK_SEED"), out var s) ? s : Random.Shared.Next();
        output.WriteLine($"seed={seed} (set ZK_SEED to replay)");
        var random = new Random(seed);
        for (var i = 0; i < 2000; i++)
        {
            var message = RandomMessage(random);
            AssertSame(message, MessageCodec.Decode(MessageCodec.Encode(message), Bound));
        }
    }

    [Fact]
    public void Kind_numbers_are_ZooKeepers_packet_numbers_and_never_change()
    {
        var expected = new Dictionary<MessageKind, int>
        {
            [MessageKind.Proposal] = 2, [MessageKind.Ack] = 3, [MessageKind.Commit] = 4, [MessageKind.Ping] = 5,
            [MessageKind.Inform] = 8, [MessageKind.NewLeader] = 10, [MessageKind.FollowerInfo] = 11,
            [MessageKind.UpToDate] = 12, [MessageKind.Diff] = 13, [MessageKind.Trunc] = 14, [MessageKind.Snap] = 15,
            [MessageKind.ObserverInfo] = 16, [MessageKind.LeaderInfo] = 17, [MessageKind.AckEpoch] = 18,
            [MessageKind.Notification] = 100, [MessageKind.AckNewLeader] = 101,
            [MessageKind.Request] = 1, [MessageKind.Reply] = 102, [MessageKind.Sessions] = 103,
            [MessageKind.SessionClaim] = 104, [MessageKind.SessionClaimAck] = 105,
            [MessageKind.ForwardMark] = 106, [MessageKind.ForwardMarkAck] = 107,
            [MessageKind.SnapChunk] = 120, [MessageKind.SnapChunkAck] = 121,
            [MessageKind.ReadIndex] = 110, [MessageKind.ReadIndexReply] = 111, [MessageKind.ReadProbe] = 112,
            [MessageKind.ReadProbeAck] = 113,
        };
        Assert.Equal(expected.Count, Enum.GetValues<MessageKind>().Length);
        foreach (var (kind, number) in expected)
            Assert.True((int)kind == number, $"expected {kind} = {number}, it is {(int)kind}");
    }

    [Fact]
    public void Encodings_are_frozen()
    {
        Assert.Equal("93010303", Hex(new Ack(new Zxid(3))));
        Assert.Equal("930104cf000000020000000b", Hex(new Commit(new Zxid(0x20000000b))));
        Assert.Equal("9501020cc403aabbcc05", Hex(new Proposal(new ConsensusTxn(new Zxid(12), new byte[] { 0xaa, 0xbb, 0xcc }), new Zxid(5))));
        Assert.Equal("93011007", Hex(new LearnerInfo(7, IsObserver: true)));
        Assert.Equal("970164010203cc9201", Hex(new Notification(1, new Vote(2, new Zxid(3), 146), ServerState.Following)));
    }

    [Fact]
    public void Every_truncation_of_every_message_is_refused()
    {
        foreach (var message in Samples)
        {
            var bytes = MessageCodec.Encode(message);
            for (var length = 0; length < bytes.Length; length++)
            {
                var e = Assert.Throws<InvalidDataException>(() => MessageCodec.Decode(bytes.AsMemory(0, length), Bound));
                Assert.Contains("consensus message", e.Message, StringComparison.Ordinal);
            }
        }
    }

    [Fact]
    public void Random_and_mutated_bytes_decode_or_are_refused_with_InvalidDataException_only()
    {
        var seed = int.TryParse(Environment.GetEnvironmentVariable("ZK_SEED"), out var s) ? s : Random.Shared.Next();
        output.WriteLine($"seed={seed} (set ZK_SEED to replay)");
        var random = new Random(seed);
        var refused = 0;
        for (var i = 0; i < 20_000; i++)
        {
            byte[] bytes;
            if (i % 2 == 0)
            {
                bytes = new byte[random.Next(64)];
                random.NextBytes(bytes);
            }
            else
            {
                bytes = MessageCodec.Encode(Samples[random.Next(Samples.Count)]);
                bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
            }
            try
            {
                // What decodes is a message (perhaps written with a wider integer than ours): it round-trips.
                var decoded = MessageCodec.Decode(bytes, Bound);
                AssertSame(decoded, MessageCodec.Decode(MessageCodec.Encode(decoded), Bound));
            }
            catch (InvalidDataException)
            {
                refused++;
            }
        }
        Assert.True(refused > 10_000, $"expected most random inputs refused, only {refused} of 20000 were");
    }

    [Fact]
    public void Input_over_the_bound_is_refused_before_it_is_read()
    {
        var bytes = MessageCodec.Encode(new Snap(new ConsensusSnapshot(new Zxid(1), new byte[2000])));
        var e = Assert.Throws<InvalidDataException>(() => MessageCodec.Decode(bytes, maxBytes: 1000));
        Assert.Contains($"{bytes.Length} bytes exceeds the bound of 1000", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_claimed_length_beyond_the_input_is_refused_without_allocating_it()
    {
        // A SNAP whose data claims 2 GiB (bin32 0x7fffffff) but carries 4 bytes.
        byte[] bytes = [0x94, 0x01, 0x0f, 0x01, 0xc6, 0x7f, 0xff, 0xff, 0xff, 1, 2, 3, 4];
        MessageCodec.Decode(MessageCodec.Encode(new Ack(default)), Bound);   // warm the code path
        var before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<InvalidDataException>(() => MessageCodec.Decode(bytes, int.MaxValue));
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < 64 * 1024, $"expected the refusal to allocate little, it allocated {allocated} bytes");
        Assert.Contains("undecodable", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("9302030001", "format 2, this build reads 1")]
    [InlineData("930163ff", "unknown consensus message kind 99")]
    [InlineData("9401030102", "Ack has 1 fields, this one has 2")]
    [InlineData("9301030300", "1 bytes after the Ack message")]
    [InlineData("95010201c005", "nil where txn or snapshot data is required")]
    [InlineData("970164010203cc9209", "unknown server state 9")]
    [InlineData("9101", "has a version and a kind, this one has 1")]
    public void Malformed_messages_are_refused_saying_what_is_wrong(string hex, string expected)
    {
        var e = Assert.Throws<InvalidDataException>(() => MessageCodec.Decode(Convert.FromHexString(hex), Bound));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    internal static void AssertSame(ZabMessage expected, ZabMessage actual)
    {
        Assert.Equal(expected.GetType(), actual.GetType());
        switch (expected, actual)
        {
            case (Proposal p, Proposal q):
                Assert.Equal(p.Previous, q.Previous);
                AssertSameTxn(p.Txn, q.Txn);
                break;
            case (Inform p, Inform q):
                Assert.Equal(p.Previous, q.Previous);
                AssertSameTxn(p.Txn, q.Txn);
                break;
            case (ForwardedRequest p, ForwardedRequest q):
                Assert.Equal((p.SessionId, p.Cxid, p.Stream, p.Seq), (q.SessionId, q.Cxid, q.Stream, q.Seq));
                Assert.Equal(p.Body.ToArray(), q.Body.ToArray());
                break;
            case (ForwardedReply p, ForwardedReply q):
                Assert.Equal((p.SessionId, p.Cxid, p.Stream, p.Seq), (q.SessionId, q.Cxid, q.Stream, q.Seq));
                Assert.Equal(p.Body.ToArray(), q.Body.ToArray());
                break;
            case (SessionActivity p, SessionActivity q):
                Assert.Equal(p.SessionIds.ToArray(), q.SessionIds.ToArray());
                break;
            case (SnapChunk p, SnapChunk q):
                Assert.Equal((p.Zxid, p.Offset, p.Total), (q.Zxid, q.Offset, q.Total));
                Assert.Equal(p.Data.ToArray(), q.Data.ToArray());
                break;
            case (Snap p, Snap q):
                Assert.Equal(p.Snapshot.Zxid, q.Snapshot.Zxid);
                Assert.Equal(p.Snapshot.Data.ToArray(), q.Snapshot.Data.ToArray());
                break;
            default:
                Assert.Equal(expected, actual);   // records without byte fields compare by value
                break;
        }
    }

    [Theory]
    [InlineData(-1, 10, 2)]
    [InlineData(9, 10, 2)]
    [InlineData(0, 1, 2)]
    public void A_snapshot_chunk_outside_its_snapshot_is_refused(long offset, long total, int length)
    {
        var bytes = MessageCodec.Encode(new SnapChunk(new Zxid(1), offset, total, new byte[length]));
        var e = Assert.Throws<InvalidDataException>(() => MessageCodec.Decode(bytes, Bound));
        Assert.Contains($"a snapshot chunk of {length} bytes at {offset} of {total}", e.Message);
    }

    private static void AssertSameTxn(ConsensusTxn expected, ConsensusTxn actual)
    {
        Assert.Equal(expected.Zxid, actual.Zxid);
        Assert.Equal(expected.Data.ToArray(), actual.Data.ToArray());
    }

    private static string Hex(ZabMessage message) => Convert.ToHexString(MessageCodec.Encode(message)).ToLowerInvariant();

    private static ZabMessage RandomMessage(Random r)
    {
        Zxid Z() => new(r.NextInt64(long.MinValue, long.MaxValue));
        uint E() => (uint)r.NextInt64(0, uint.MaxValue + 1L);
        byte[] D()
        {
            var data = new byte[r.Next(3) switch { 0 => 0, 1 => r.Next(32), _ => r.Next(70_000) }];
            r.NextBytes(data);
            return data;
        }
        return r.Next(20) switch
        {
            0 => new Notification(r.NextInt64(), new Vote(r.Next(), Z(), r.NextInt64(long.MinValue, long.MaxValue)), (ServerState)r.Next(4)),
            1 => new LearnerInfo(E(), r.Next(2) == 0),
            2 => new LeaderInfo(E()),
            3 => new AckEpoch(E(), r.NextInt64(-1, long.MaxValue), Z()),
            4 => new Diff(Z()),
            5 => new Trunc(Z()),
            6 => new Snap(new ConsensusSnapshot(Z(), D())),
            7 => new Proposal(new ConsensusTxn(Z(), D()), Z()),
            8 => new NewLeader(E(), Z(), Z()),
            9 => new AckNewLeader(E()),
            10 => new UpToDate(E()),
            11 => new Ack(Z()),
            12 => new Commit(Z()),
            13 => new Inform(new ConsensusTxn(Z(), D()), Z()),
            14 => new ReadIndexRequest(r.NextInt64(long.MinValue, long.MaxValue)),
            15 => new ReadIndexReply(r.NextInt64(long.MinValue, long.MaxValue), Z()),
            16 => new ReadProbe(r.NextInt64(long.MinValue, long.MaxValue)),
            17 => new ReadProbeAck(r.NextInt64(long.MinValue, long.MaxValue)),
            _ => new Ping(Z()),
        };
    }
}
