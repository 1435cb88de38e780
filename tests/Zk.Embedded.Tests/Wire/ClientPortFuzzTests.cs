using System.Buffers.Binary;
using Xunit.Abstractions;
using Zk.Embedded.Api;
using Zk.Embedded.Wire.Jute;

namespace Zk.Embedded.Tests.Wire;

/// <summary>
/// Random and mutated frames sent to a live client port: each bad connection is answered or closed, the peer keeps
/// serving everyone else, and nothing acknowledged is lost.
/// </summary>
public sealed class ClientPortFuzzTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Garbage_on_some_connections_never_disturbs_a_healthy_one()
    {
        var seed = int.TryParse(Environment.GetEnvironmentVariable("ZK_SEED"), out var s) ? s : Random.Shared.Next();
        output.WriteLine($"seed={seed} (set ZK_SEED to replay)");
        var random = new Random(seed);
        await using var peer = await ZkPeer.StartAsync(new ZkPeerOptions { ClientPort = 0, MaxClientConnections = 0 });
        var (healthy, _) = await RawWireClient.ConnectAsync(peer.ClientEndPoint!);
        using var __ = healthy;
        var xid = 0;
        var acknowledged = new List<string>();

        for (var round = 0; round < 200; round++)
        {
            using var fuzzer = await RawWireClient.OpenAsync(peer.ClientEndPoint!);
            if (random.Next(2) == 0)
            {
                // Half the time, a valid connect first, so the garbage reaches request decoding.
                fuzzer.Send(new ConnectRequest(0, 0, 10_000, 0, new byte[16], false));
                Assert.NotNull(fuzzer.ReceiveFrame());
            }

            fuzzer.SendRaw(Garbage(random));
            // The healthy session keeps working after every round: a write is acknowledged and readable.
            var path = $"/ok-{round}";
            healthy.SendRequest(++xid, OpCode.Create, new CreateRequest(path, [1], Acl.OpenUnsafe, 0));
            var reply = healthy.ReceiveReply();
            Assert.True(reply.Header.Err == ZkErrorCode.Ok, $"seed={seed} round {round}: the healthy session's create failed with {reply.Header.Err}");
            acknowledged.Add(path);
        }

        await using var check = await peer.ConnectAsync();
        foreach (var path in acknowledged)
        {
            Assert.True(await check.ExistsAsync(path) is not null, $"seed={seed}: acknowledged {path} is missing");
        }
    }

    /// <summary>A frame-ish blob: random bytes, a huge or negative length, a valid header with a random body, or a truncated frame.</summary>
    private static byte[] Garbage(Random random)
    {
        var body = new byte[random.Next(0, 64)];
        random.NextBytes(body);
        switch (random.Next(5))
        {
            case 0:
                return body;
            case 1:
                var huge = new byte[8];
                BinaryPrimitives.WriteInt32BigEndian(huge, random.Next(2) == 0 ? int.MaxValue : -random.Next(1, 1000));
                return huge;
            case 2:
                var frame = new byte[body.Length + 12];
                BinaryPrimitives.WriteInt32BigEndian(frame, body.Length + 8);
                BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(4), random.Next());
                BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(8), random.Next(-12, 110));
                body.CopyTo(frame, 12);
                return frame;
            case 3:
                var truncated = new byte[4 + (body.Length / 2)];
                BinaryPrimitives.WriteInt32BigEndian(truncated, body.Length);
                body.AsSpan(0, body.Length / 2).CopyTo(truncated.AsSpan(4));
                return truncated;
            default:
                var ok = new byte[body.Length + 4];
                BinaryPrimitives.WriteInt32BigEndian(ok, body.Length);
                body.CopyTo(ok, 4);
                return ok;
        }
    }
}
