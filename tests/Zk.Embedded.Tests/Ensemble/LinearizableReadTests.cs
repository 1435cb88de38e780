using System.Collections.Concurrent;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit.Abstractions;
using Zk.Embedded.Api;
using Zk.Embedded.Consensus;
using Zk.Embedded.Ensemble;
using Zk.Embedded.Processing;
using Zk.Testing.Simulation;
using Zk.Embedded.Tests.Support;
using Zk.Embedded.Wire.Client;
using Zk.Transport.InMemory;

namespace Zk.Embedded.Tests.Ensemble;

/// <summary>
/// Linearizable reads (docs/consensus.md, "Linearizable reads") on real members over <see cref="InMemoryNetwork"/>:
/// a lagging follower's linearizable read sees a write acknowledged elsewhere before it; a deposed leader that has
/// not noticed yet still answers plain reads, stale, but never a linearizable one.
/// </summary>
[Collection(RunsAlone.Name)]
public sealed class LinearizableReadTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Deadline = EnsembleKit.Deadline;
    private readonly TraceLogger _log = new();
    private readonly ConcurrentQueue<string> _trace = new();

    public void Dispose() => output.WriteLine(_log.Tail());

    [Fact]
    public async Task A_linearizable_read_on_a_lagging_follower_sees_a_write_acknowledged_on_the_leader_before_it()
    {
        // syncLimit 2 s: the follower keeps its leader while everything from the leader arrives 400 ms late.
        await using var ensemble = await EnsembleKit.StartAsync(output, _log, 3, o => o with { SyncLimit = 20 });
        var leader = ensemble.Leader!.Value;
        var lagging = ensemble.Followers[0];
        await using var writer = await ensemble.ConnectAsync(leader);
        await using var reader = await ensemble.ConnectAsync(lagging);
        await writer.CreateAsync("/x", CreateMode.Persistent, "old"u8.ToArray());
        await EnsembleKit.AssertConvergedAsync(ensemble, p => p.Core.Pipeline.State.Find("/x") is not null);

        var delay = TimeSpan.FromMilliseconds(400);
        ensemble.Network.SetFaults(leader, lagging, new LinkFaults { MinDelay = delay, MaxDelay = delay });
        await writer.SetDataAsync("/x", "new"u8.ToArray());   // acknowledged: the leader and the other follower hold it
        var plain = await reader.GetDataAsync("/x");
        output.WriteLine($"plain read on the lagging follower right after the write: {Encoding.UTF8.GetString(plain.Data.Span)}");

        await reader.LinearizableSyncAsync();
        var read = await reader.GetDataAsync("/x");
        Assert.True(read.Data.Span.SequenceEqual("new"u8), $"expected the linearizable read on server {lagging} to see 'new', got '{Encoding.UTF8.GetString(read.Data.Span)}'");
    }

    [Fact]
    public async Task A_partitioned_old_leader_serves_stale_plain_reads_but_never_a_linearizable_one()
    {
        var seed = Environment.GetEnvironmentVariable("ZK_SEED") is { } s ? int.Parse(s) : Random.Shared.Next();
        output.WriteLine($"seed={seed} (set ZK_SEED to replay)");
        await using var network = new InMemoryNetwork(new InMemoryNetworkOptions { Seed = seed });
        var members = new Dictionary<int, EnsembleMember>();
        try
        {
            // 3 leads (it beats 2 with equal logs, and 1 starts later) and notices a lost quorum only after 3 s,
            // like a leader stalled by a long GC; 1 and 2 give it up after 300 ms and elect a new leader meanwhile.
            members[3] = Start(3, network, syncLimit: 300, seed);
            members[2] = Start(2, network, syncLimit: 30, seed);
            var old = await EnsembleTestKit.LeaderAsync(members.Values, Trace);
            Assert.True(old.Id == 3, $"expected server 3 to lead the first epoch; trace: {Trace()}");
            members[1] = Start(1, network, syncLimit: 30, seed);
            var session = await EnsembleTestKit.NewSessionAsync(old, Trace);
            await EnsembleTestKit.WriteAsync(old, session, new CreateRequest("/x", "old"u8.ToArray(), Acl.OpenUnsafe, CreateMode.Persistent, -1, false), 1, Trace);
            await EnsembleTestKit.QuiescentAsync(members.Values, old.State.Zxid);

            network.Partition([3]);
            var linearizable = old.ReadIndexAsync(CancellationToken.None).AsTask();
            var majority = new[] { members[1], members[2] };
            var fresh = await EnsembleTestKit.LeaderAsync(majority, Trace);
            var session2 = await EnsembleTestKit.NewSessionAsync(fresh, Trace);
            await EnsembleTestKit.WriteAsync(fresh, session2, new SetDataRequest("/x", "new"u8.ToArray(), -1), 1, Trace);

            // The write is acknowledged; the old leader still serves and its plain read is stale.
            Assert.True(old.IsServing, $"expected server 3 to still believe it leads (syncLimit 3 s); trace: {Trace()}");
            Assert.True(old.State.Find("/x")!.Data.AsSpan().SequenceEqual("old"u8), "expected the deposed leader's plain read to be stale");
            Assert.False(linearizable.IsCompleted, $"expected no linearizable read on the deposed leader, it completed as {linearizable.Status}");

            var failure = await Assert.ThrowsAsync<ZkException>(() => linearizable.WaitAsync(Deadline));
            Assert.True(failure.Code == ZkErrorCode.ConnectionLoss, $"expected ConnectionLoss once the old leader stepped down, got {failure.Code}: {failure.Message}");

            network.Heal();
            await EnsembleTestKit.QuiescentAsync([old], fresh.State.Zxid);
            await EnsembleKit.RetryOnConnectionLossAsync(() => old.ReadIndexAsync(CancellationToken.None).AsTask());
            Assert.True(old.State.Find("/x")!.Data.AsSpan().SequenceEqual("new"u8), "expected server 3's linearizable read to see 'new' once it follows the new leader");
        }
        finally
        {
            foreach (var m in members.Values)
                await m.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_standalone_peer_completes_a_linearizable_sync_at_once_and_the_wire_client_refuses_it_as_Unimplemented()
    {
        await using var peer = await ZkPeer.StartAsync(new ZkPeerOptions { ClientPort = 0 });
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/s", CreateMode.Persistent, [1]);
        await zk.LinearizableSyncAsync();
        Assert.NotNull(await zk.ExistsAsync("/s"));

        await using var client = await ZkClient.ConnectAsync(peer.ClientEndPoint!.ToString()!);
        var refused = await Assert.ThrowsAsync<ZkException>(() => ((IZooKeeper)client).LinearizableSyncAsync().AsTask());
        Assert.True(refused.Code == ZkErrorCode.Unimplemented, $"expected Unimplemented over the wire, got {refused.Code}");
    }

    [Fact]
    public async Task A_linearizable_sync_completes_after_the_sessions_earlier_write()
    {
        await using var peer = await ZkPeer.StartAsync(new ZkPeerOptions());
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/gate");
        using var held = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        peer.Core.Watches.BeforeTrigger = path =>
        {
            if (path == "/gate" && !held.IsSet)
            {
                held.Set();
                release.Wait(Deadline);
            }
        };
        try
        {
            var write = zk.SetDataAsync("/gate", [1]).AsTask();
            Assert.True(await Task.Run(() => held.Wait(Deadline)), "expected the write to reach publishing");
            var sync = zk.LinearizableSyncAsync().AsTask();
            Assert.False(sync.IsCompleted, "expected the sync to wait for the session's earlier write, which is held");
            release.Set();
            await sync.WaitAsync(Deadline);
            Assert.True(write.IsCompletedSuccessfully, $"expected the write answered before the sync, it is {write.Status}");
        }
        finally
        {
            release.Set();
            peer.Core.Watches.BeforeTrigger = null;
        }
    }

    [Fact]
    public async Task A_member_without_a_leader_fails_a_linearizable_sync_with_ConnectionLoss()
    {
        await using var ensemble = await EnsembleKit.StartAsync(output, _log, 3);
        var cut = ensemble.Followers[0];
        await using var zk = await ensemble.ConnectAsync(cut);
        ensemble.Partition(cut);
        await EnsembleKit.WaitAsync(() => !ensemble[cut].IsServing, () => $"expected server {cut} to stop serving once cut off");
        var refused = await Assert.ThrowsAsync<ZkException>(() => zk.LinearizableSyncAsync().AsTask());
        Assert.True(refused.Code == ZkErrorCode.ConnectionLoss, $"expected ConnectionLoss, got {refused.Code}");
    }

    private EnsembleMember Start(int id, InMemoryNetwork network, int syncLimit, int seed)
    {
        var config = new ConsensusConfig { MyId = id, Voters = [1, 2, 3], InitLimit = 100, SyncLimit = syncLimit };
        var member = new EnsembleMember(config, network.Join(id), new ConsensusLog(), new SeededRandom(new Random(seed + id)),
            TimeProvider.System, TimeSpan.FromMilliseconds(10), NullLogger.Instance);
        member.Driver.RoleChanged += c => _trace.Enqueue($"{id}: {c.State} {c.Phase} e{c.Epoch} ({c.Reason})");
        return member;
    }

    private string Trace() => string.Join(" | ", _trace);
}
