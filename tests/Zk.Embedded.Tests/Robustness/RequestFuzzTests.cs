using System.Diagnostics;
using Microsoft.Extensions.Time.Testing;
using Xunit.Abstractions;
using Zk.Embedded.Api;
using Zk.Embedded.Tests.Storage;
using Zk.Embedded.Tests.Support;

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
    [Fact]
    public async Task Random_requests_through_the_api_and_the_wire_leave_the_peer_writable_and_every_acknowledged_write_survives_a_restart()
    {
        var (seed, batches) = FuzzRounds.FromEnvironment(DefaultSeed, DefaultBatches);
        output.WriteLine($"seed={seed} batches={batches} (set ZK_FUZZ_SEED and ZK_FUZZ_ITERATIONS to replay or run longer)");
        using var dir = new TempDirectory();
        var options = new ZkPeerOptions
        {
            DataDir = dir.Path, ClientPort = 0, MaxClientConnections = 0, ExtendedTypesEnabled = true,
            SuperDigest = FuzzRounds.SuperDigest,
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
                await FuzzRounds.RunCallsAsync(peer, sessions, fuzz, where);
                await FuzzRounds.RunFramesAsync(peer, fuzz, where, output);
                probes.Add(await FuzzRounds.AssertWritableAsync(peer, $"/probe-{batch}", where));
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
}
