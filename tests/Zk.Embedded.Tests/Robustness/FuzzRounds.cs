using System.Net.Sockets;
using Xunit.Abstractions;
using Zk.Embedded.Api;
using Zk.Embedded.Tests.Support;
using Zk.Embedded.Tests.Wire;
using Zk.Embedded.Wire.Jute;
using W = Zk.Embedded.Wire.Jute;

namespace Zk.Embedded.Tests.Robustness;

/// <summary>
/// One batch of the request fuzz against a peer, standalone or an ensemble's member (<see cref="RequestFuzzTests"/>,
/// <see cref="EnsembleRequestFuzzTests"/>): random calls in process, hostile frames on a client port, and the check
/// that the peer still takes a write.
/// </summary>
internal static class FuzzRounds
{
    private const int CallsPerBatch = 24;
    private const int FramesPerBatch = 12;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    /// <summary>The probes authenticate as super: the fuzz may lock any node, the root included, with setACL.</summary>
    private static readonly byte[] SuperAuth = "super:fuzz"u8.ToArray();

    /// <summary>The seed and the batch count: ZK_FUZZ_SEED and ZK_FUZZ_ITERATIONS when set, else the test's own.</summary>
    public static (int Seed, int Batches) FromEnvironment(int seed, int batches) =>
        (int.TryParse(Environment.GetEnvironmentVariable("ZK_FUZZ_SEED"), out var s) ? s : seed,
         int.TryParse(Environment.GetEnvironmentVariable("ZK_FUZZ_ITERATIONS"), out var n) ? n : batches);

    /// <summary>The peer option that makes the probes' credentials super.</summary>
    public static string SuperDigest => Processing.AccessControl.DigestId("super:fuzz").Identity;

    /// <summary>Random calls, pipelined over a few sessions; each fails or succeeds, but never with ConnectionLoss (a stopped pipeline).</summary>
    public static async Task RunCallsAsync(ZkPeer peer, IZooKeeper[] sessions, FuzzRequests fuzz, string where)
    {
        var calls = new List<(string What, Task Task)>(CallsPerBatch);
        for (var i = 0; i < CallsPerBatch; i++)
        {
            var slot = i % sessions.Length;
            if (sessions[slot] is null or { State: not SessionState.Connected })
            {
                sessions[slot] = await peer.ConnectAsync();
            }

            var (what, call) = fuzz.NextCall();
            calls.Add((what, Invoke(call, sessions[slot])));
        }

        foreach (var (what, task) in calls)
        {
            try
            {
                await task.WaitAsync(Deadline);
            }
            catch (ZkException e) when (e.Code != ZkErrorCode.ConnectionLoss)
            {
                // Refused as ZooKeeper would refuse it: fine.
            }
            catch (ArgumentException)
            {
                // Refused at the API edge: fine.
            }
            catch (Exception e)
            {
                var notServing = peer.Core.Pipeline.NotServing;
                Assert.Fail($"{where}: '{what}' failed with {e.GetType().Name}: {e.Message}{(notServing is null ? "" : $"; the peer stopped serving: {notServing}")}");
            }
        }

        static Task Invoke(Func<IZooKeeper, Task> call, IZooKeeper zk)
        {
            try
            {
                return call(zk);
            }
            catch (Exception e)
            {
                return Task.FromException(e);
            }
        }
    }

    /// <summary>
    /// Hostile frames on a fresh wire session, then a marker request; the replies are read until the marker's or until the
    /// server closes the connection (a bad frame may close it: that is the wire's rule, not this test's property).
    /// </summary>
    public static async Task RunFramesAsync(ZkPeer peer, FuzzRequests fuzz, string where, ITestOutputHelper output)
    {
        var (client, _) = await RawWireClient.ConnectAsync(peer.ClientEndPoint!);
        using var _ = client;
        const int Marker = 0x7FFF_0000;
        try
        {
            for (var i = 1; i <= FramesPerBatch; i++)
            {
                client.SendRaw(fuzz.NextFrame(i));
            }

            client.SendRequest(Marker, OpCode.Exists, new ExistsRequest("/", false));
            while (client.ReceiveFrame() is { } frame)
            {
                var reader = new JuteReader(frame);
                if (ReplyHeader.TryRead(ref reader, out var header) && header.Xid == Marker)
                {
                    return;
                }
            }
        }
        catch (SocketException e)
        {
            // Reset by the server (it closed while we were sending), or no marker reply within the read deadline.
            output.WriteLine($"{where}: the fuzzed connection ended with {e.SocketErrorCode}");
        }
    }

    /// <summary>A fresh in-process session and a fresh wire session each get a write acknowledged; returns the probe's path.</summary>
    public static async Task<string> AssertWritableAsync(ZkPeer peer, string probe, string where)
    {
        await using (var fresh = await peer.ConnectAsync().AsTask().WaitAsync(Deadline))
        {
            try
            {
                await fresh.AddAuthInfoAsync("digest", SuperAuth).AsTask().WaitAsync(Deadline);
                await fresh.CreateAsync(probe).AsTask().WaitAsync(Deadline);
            }
            catch (ZkException e)
            {
                Assert.Fail($"{where}: a fresh session's create of {probe} failed with {e.Code}: the peer stopped taking writes");
            }
        }

        var (wire, _) = await RawWireClient.ConnectAsync(peer.ClientEndPoint!);
        using (wire)
        {
            wire.SendRequest(-4, OpCode.Auth, new AuthPacket(0, "digest", SuperAuth));
            Assert.True(wire.ReceiveReply().Header.Err == ZkErrorCode.Ok, $"{where}: super auth over the wire failed");
            wire.SendRequest(1, OpCode.Create, new W.CreateRequest(probe + "-wire", null, Acl.OpenUnsafe, 0));
            var err = wire.ReceiveReply().Header.Err;
            Assert.True(err == ZkErrorCode.Ok, $"{where}: a fresh wire session's create failed with {err}");
        }

        return probe;
    }
}
