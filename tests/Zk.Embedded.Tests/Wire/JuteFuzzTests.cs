using System.Buffers.Binary;
using System.Diagnostics;
using CsCheck;
using Xunit.Abstractions;
using Zk.Embedded.Wire.Jute;

namespace Zk.Embedded.Tests.Wire;

/// <summary>
/// Hostile frames against every decoder: random bytes, and valid records with bit flips, truncations, spliced-in huge
/// or negative lengths. Each decode returns true or false (or throws <see cref="JuteException"/>), never anything
/// else; allocates in proportion to the bytes it was given, never to a declared length; and is quick.
/// Seeded: the seed is printed; set ZK_SEED to replay.
/// </summary>
public sealed class JuteFuzzTests(ITestOutputHelper output)
{
    private delegate bool Decoder(ReadOnlySpan<byte> bytes);

    // Decoded objects are UTF-16 strings, object headers and list slots: a few times the wire bytes at worst
    // (a 1-byte string is 5 wire bytes and ~40 heap bytes). The constant covers lists' first growth.
    private const int AllocationPerByte = 16;
    private const int AllocationSlack = 4096;

    private static readonly (string Name, Decoder Decode)[] Decoders =
    [
        (nameof(ConnectRequest), Try<ConnectRequest>), (nameof(ConnectResponse), Try<ConnectResponse>),
        (nameof(RequestHeader), Try<RequestHeader>), (nameof(ReplyHeader), Try<ReplyHeader>),
        (nameof(WatcherEvent), Try<WatcherEvent>), (nameof(AuthPacket), Try<AuthPacket>), (nameof(ErrorResponse), Try<ErrorResponse>),
        (nameof(SetWatches), Try<SetWatches>), (nameof(SetWatches2), Try<SetWatches2>), (nameof(WhoAmIResponse), Try<WhoAmIResponse>),
        (nameof(MultiHeader), Try<MultiHeader>), (nameof(CreateRequest), Try<CreateRequest>), (nameof(CreateTtlRequest), Try<CreateTtlRequest>),
        (nameof(DeleteRequest), Try<DeleteRequest>), (nameof(CheckVersionRequest), Try<CheckVersionRequest>),
        (nameof(ExistsRequest), Try<ExistsRequest>), (nameof(GetDataRequest), Try<GetDataRequest>),
        (nameof(GetChildrenRequest), Try<GetChildrenRequest>), (nameof(GetChildren2Request), Try<GetChildren2Request>),
        (nameof(SetDataRequest), Try<SetDataRequest>), (nameof(SetAclRequest), Try<SetAclRequest>), (nameof(GetAclRequest), Try<GetAclRequest>),
        (nameof(SyncRequest), Try<SyncRequest>), (nameof(GetAllChildrenNumberRequest), Try<GetAllChildrenNumberRequest>),
        (nameof(GetEphemeralsRequest), Try<GetEphemeralsRequest>), (nameof(RemoveWatchesRequest), Try<RemoveWatchesRequest>),
        (nameof(CheckWatchesRequest), Try<CheckWatchesRequest>), (nameof(AddWatchRequest), Try<AddWatchRequest>),
        (nameof(CreateResponse), Try<CreateResponse>), (nameof(Create2Response), Try<Create2Response>), (nameof(StatResponse), Try<StatResponse>),
        (nameof(GetDataResponse), Try<GetDataResponse>), (nameof(GetAclResponse), Try<GetAclResponse>),
        (nameof(GetChildrenResponse), Try<GetChildrenResponse>), (nameof(GetChildren2Response), Try<GetChildren2Response>),
        (nameof(SyncResponse), Try<SyncResponse>), (nameof(GetAllChildrenNumberResponse), Try<GetAllChildrenNumberResponse>),
        (nameof(GetEphemeralsResponse), Try<GetEphemeralsResponse>), (nameof(MultiOperationRecord), Try<MultiOperationRecord>),
        (nameof(MultiResponse), Try<MultiResponse>),
    ];

    [Fact]
    public void Mutated_and_random_frames_never_break_a_decoder()
    {
        var seed = int.TryParse(Environment.GetEnvironmentVariable("ZK_SEED"), out var fixedSeed) ? fixedSeed : Random.Shared.Next();
        output.WriteLine($"seed={seed} (set ZK_SEED to replay)");
        var random = new Random(seed);
        var corpus = Corpus(seed);
        WarmUp(corpus);

        var clock = Stopwatch.StartNew();
        var slowest = TimeSpan.Zero;
        for (var i = 0; i < 4000; i++)
        {
            var frame = i % 8 == 0 ? RandomBytes(random) : Mutate(random, corpus[random.Next(corpus.Count)]);
            foreach (var (name, decode) in Decoders)
            {
                var started = clock.Elapsed;
                DecodeSafely(name, decode, frame, seed);
                var took = clock.Elapsed - started;
                slowest = took > slowest ? took : slowest;
            }
        }

        // Timing is reported, not asserted (a loaded machine would make it flaky); every decoder is bounded by its
        // input, so finishing the loop is the no-hang property.
        output.WriteLine($"{4000 * Decoders.Length} decodes in {clock.Elapsed.TotalMilliseconds:F0} ms, slowest {slowest.TotalMilliseconds:F2} ms");
    }

    [Theory]
    [InlineData(int.MaxValue)]
    [InlineData(int.MinValue)]
    [InlineData(-2)]
    [InlineData(0x100000)]
    public void A_declared_length_or_count_beyond_the_frame_is_refused_without_allocating(int declared)
    {
        WarmUp(Corpus(1));
        // The huge length sits where each record's first buffer, string or vector length goes.
        var cases = new (string Name, Decoder Decode, int Offset)[]
        {
            ("ConnectRequest.passwd", Try<ConnectRequest>, 24), ("CreateRequest.path", Try<CreateRequest>, 0),
            ("SetDataRequest.data", Try<SetDataRequest>, 6), ("SetWatches.dataWatches", Try<SetWatches>, 8),
            ("GetAclResponse.acl", Try<GetAclResponse>, 0), ("WhoAmIResponse.clientInfo", Try<WhoAmIResponse>, 0),
            ("GetChildrenResponse.children", Try<GetChildrenResponse>, 0), ("AuthPacket.scheme", Try<AuthPacket>, 4),
        };
        foreach (var (name, decode, offset) in cases)
        {
            var frame = new byte[offset + 4 + 64];
            BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(offset), declared);
            if (name == "SetDataRequest.data")
            {
                BinaryPrimitives.WriteInt32BigEndian(frame, 2); // path "\0\0", then the data length
            }

            var before = GC.GetAllocatedBytesForCurrentThread();
            var ok = decode(frame);
            var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

            Assert.False(ok, $"{name} accepted a length of {declared} in a {frame.Length}-byte frame");
            Assert.True(allocated < 1024, $"{name} allocated {allocated} bytes for a declared length of {declared}");
        }
    }

    [Fact]
    public void Truncating_any_valid_record_at_any_byte_is_refused_or_decodes_a_shorter_record()
    {
        foreach (var frame in Corpus(2))
        {
            for (var cut = 0; cut < frame.Length; cut++)
            {
                foreach (var (name, decode) in Decoders)
                {
                    DecodeSafely(name, decode, frame.AsSpan(0, cut).ToArray(), seed: 2);
                }
            }
        }
    }

    private static void DecodeSafely(string name, Decoder decode, byte[] frame, int seed)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        try
        {
            decode(frame);
        }
        catch (JuteException)
        {
        }
        catch (Exception e)
        {
            Assert.Fail($"seed={seed}: {name} threw {e.GetType().Name} on {Convert.ToHexString(frame)}: {e}");
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(
            allocated <= (long)AllocationPerByte * frame.Length + AllocationSlack,
            $"seed={seed}: {name} allocated {allocated} bytes on a {frame.Length}-byte frame {Convert.ToHexString(frame)}");
    }

    private static bool Try<T>(ReadOnlySpan<byte> bytes)
        where T : IJuteRecord<T> =>
        Jute.TryDecode<T>(bytes, out _);

    private static void WarmUp(List<byte[]> corpus)
    {
        foreach (var frame in corpus)
        {
            foreach (var (_, decode) in Decoders)
            {
                decode(frame);
            }
        }
    }

    /// <summary>Valid encodings of varied records: mutations of them reach deep into each decoder.</summary>
    private static List<byte[]> Corpus(int seed)
    {
        var corpus = new List<byte[]>();
        void Add<T>(Gen<T> gen)
            where T : IJuteRecord<T>
        {
            for (var i = 0; i < 6; i++)
            {
                corpus.Add(Jute.ToArray(gen.Generate(new PCG((uint)i, (ulong)seed), null, out _)));
            }
        }

        Add(Gen.Select(JuteGens.Long, JuteGens.Bytes, (z, p) => new ConnectRequest(0, z, 30000, z, p, true)));
        Add(Gen.Select(JuteGens.NullableText, JuteGens.Bytes, JuteGens.Acls, JuteGens.Int, (p, d, a, f) => new CreateRequest(p, d, a, f)));
        Add(Gen.Select(JuteGens.Long, JuteGens.Texts, JuteGens.Texts, JuteGens.Texts, (z, d, e, c) => new SetWatches(z, d, e, c)));
        Add(Gen.Select(JuteGens.Acls, JuteGens.Stats, (a, s) => new GetAclResponse(a, s)));
        Add(JuteGens.ClientInfos.Select(c => new WhoAmIResponse(c)));
        Add(JuteGens.Multi);
        Add(JuteGens.MultiResponse);
        return corpus;
    }

    private static byte[] RandomBytes(Random random)
    {
        var bytes = new byte[random.Next(0, 96)];
        random.NextBytes(bytes);
        return bytes;
    }

    private static byte[] Mutate(Random random, byte[] original)
    {
        var bytes = original.ToArray();
        switch (random.Next(4))
        {
            case 0 when bytes.Length > 0:
                for (var flips = random.Next(1, 5); flips > 0; flips--)
                {
                    bytes[random.Next(bytes.Length)] ^= (byte)(1 << random.Next(8));
                }

                return bytes;
            case 1:
                return bytes.AsSpan(0, random.Next(bytes.Length + 1)).ToArray();
            case 2 when bytes.Length >= 4:
                int[] lengths = [int.MaxValue, int.MinValue, -2, 0x100000, bytes.Length, random.Next()];
                BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(random.Next(bytes.Length - 3)), lengths[random.Next(lengths.Length)]);
                return bytes;
            default:
                var extra = new byte[random.Next(1, 16)];
                random.NextBytes(extra);
                return [.. bytes, .. extra];
        }
    }
}
