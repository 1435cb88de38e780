using System.Diagnostics;
using System.Net.Sockets;
using Microsoft.Extensions.Time.Testing;
using Xunit.Abstractions;
using Zk.Embedded.Api;
using Zk.Embedded.Tests.Storage;
using Zk.Embedded.Tests.Support;
using Zk.Embedded.Tests.Wire;
using Zk.Embedded.Wire.Jute;
using W = Zk.Embedded.Wire.Jute;

namespace Zk.Embedded.Tests.Robustness;

/// <summary>
/// The pipeline's fault rule as a property: seeded random requests (<see cref="FuzzRequests"/>) through the in-process
/// API and, as raw frames, through a real client port, against a durable peer. After every batch the peer still takes a
/// write from a fresh session (in process and over the wire); after a restart it holds exactly the state it had
/// (so every acknowledged write) and the probes written along the way.
/// CI runs a fixed seed and a bounded count; ZK_FUZZ_SEED and ZK_FUZZ_ITERATIONS (batches) replay or lengthen it
/// (docs/architecture.md, "The pipeline's fault rule").
/// </summary>
public sealed class RequestFuzzTests(ITestOutputHelper output)
{
    private const int DefaultSeed = 20_110_005;
    private const int DefaultBatches = 30;
    private const int CallsPerBatch = 24;
    private const int FramesPerBatch = 12;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    /// <summary>The probes authenticate as super: the fuzz may lock any node, the root included, with setACL.</summary>
    private static readonly byte[] SuperAuth = "super:fuzz"u8.ToArray();

    [Fact]
    public async Task Random_requests_through_the_api_and_the_wire_leave_the_peer_writable_and_every_acknowledged_write_survives_a_restart()
    {
        var seed = int.TryParse(Environment.GetEnvironmentVariable("ZK_FUZZ_SEED"), out var s) ? s : DefaultSeed;
        var batches = int.TryParse(Environment.GetEnvironmentVariable("ZK_FUZZ_ITERATIONS"), out var n) ? n : DefaultBatches;
        output.WriteLine($"seed={seed} batches={batches} (set ZK_FUZZ_SEED and ZK_FUZZ_ITERATIONS to replay or run longer)");
        using var dir = new TempDirectory();
        var options = new ZkPeerOptions
        {
            DataDir = dir.Path, ClientPort = 0, MaxClientConnections = 0, ExtendedTypesEnabled = true,
            SuperDigest = Processing.AccessControl.DigestId("super:fuzz").Identity,
            // A fake clock that never moves: no session expires and no container is reaped behind the test's back.
            Time = new FakeTimeProvider(new DateTimeOffset(2024, 1, 1, 0, 0, 0, TimeSpan.Zero)),
        };
        var random = new Random(seed);
        var fuzz = new FuzzRequests(random, options.MaxDataBytes);
        var probes = new List<string>();
        var clock = Stopwatch.StartNew();
        Tree.TreeState final;

        var peer = await ZkPeer.StartAsync(options);
        await using (peer)
        {
            await using (var setup = await peer.ConnectAsync())
            {
                await setup.CreateAsync("/f");
                await setup.CreateAsync("/zookeeperx");
            }

            var sessions = new IZooKeeper[3];
            for (var batch = 0; batch < batches; batch++)
            {
                var where = $"seed={seed} batch {batch}";
                await RunCallsAsync(peer, sessions, fuzz, where);
                await RunFramesAsync(peer, fuzz, where);
                probes.Add(await AssertWritableAsync(peer, batch, where));
            }

            foreach (var session in sessions)
            {
                if (session is not null)
                {
                    await session.DisposeAsync();
                }
            }
        }

        // After dispose: everything the pipeline logged has been published, so this is the state the log must give back.
        final = peer.Core.Pipeline.State;
        output.WriteLine($"{batches} batches, {final.NodeCount} znodes, zxid {final.Zxid}, in {clock.ElapsedMilliseconds} ms");
        await using var restarted = await ZkPeer.StartAsync(options with { ClientPort = null });
        StorageAssert.SameState(final, restarted.Core.Pipeline.State);
        await using var check = await restarted.ConnectAsync();
        foreach (var probe in probes)
        {
            Assert.True(await check.ExistsAsync(probe) is not null, $"seed={seed}: the acknowledged probe {probe} is missing after the restart");
        }
    }

    /// <summary>Random calls, pipelined over a few sessions; each fails or succeeds, but never with ConnectionLoss (a stopped pipeline).</summary>
    private async Task RunCallsAsync(ZkPeer peer, IZooKeeper[] sessions, FuzzRequests fuzz, string where)
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
    private async Task RunFramesAsync(ZkPeer peer, FuzzRequests fuzz, string where)
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
    private static async Task<string> AssertWritableAsync(ZkPeer peer, int batch, string where)
    {
        var probe = $"/probe-{batch}";
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
