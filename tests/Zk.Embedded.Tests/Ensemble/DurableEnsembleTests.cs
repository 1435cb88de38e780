using System.Collections.Concurrent;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit.Abstractions;
using Zk.Embedded.Api;
using Zk.Embedded.Consensus;
using Zk.Embedded.Ensemble;
using Zk.Embedded.Processing;
using Zk.Embedded.Sessions;
using Zk.Embedded.Storage;
using Zk.Testing.Simulation;
using Zk.Embedded.Tests.Replication;
using Zk.Embedded.Tests.Storage;
using Zk.Transport.InMemory;

namespace Zk.Embedded.Tests.Ensemble;

/// <summary>
/// Three <see cref="EnsembleMember"/>s, each on a <see cref="DurableConsensusStore"/> in its own temp directory,
/// crashed under a write load as a killed process is (transport gone, files closed without a clean close) and restarted
/// from their files: no acknowledged write is lost, epochs survive, trees end identical. A store fault stops the
/// driver with a message naming the files.
/// </summary>
public sealed class DurableEnsembleTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Deadline = EnsembleTestKit.Deadline;
    private static readonly int[] Voters = [1, 2, 3];
    private readonly TempDirectory _dir = new();
    private readonly ConcurrentQueue<string> _trace = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Members_crashed_mid_load_restart_from_their_files_with_every_acknowledged_write()
    {
        var seed = Environment.GetEnvironmentVariable("ZK_SEED") is { } s ? int.Parse(s) : Random.Shared.Next();
        output.WriteLine($"seed={seed} (set ZK_SEED to replay)");
        await using var network = new InMemoryNetwork(new InMemoryNetworkOptions { Seed = seed });
        var members = Voters.ToDictionary(id => id, id => Start(id, network, seed));
        var acked = new ConcurrentDictionary<string, byte>();
        try
        {
            // A follower crashes mid-load; the other two go on; it restarts from its files and catches up.
            var leader = await LeaderAsync(members.Values);
            var follower = members.Values.First(m => m != leader);
            // Serving means synced: its NEWLEADER ACK waited for its history and currentEpoch to be durable. Both
            // followers, or the crash could leave the leader with one that is still syncing: no quorum.
            foreach (var m in members.Values.Where(m => m != leader))
                await m.Driver.WaitUntilAsync(() => m.Driver.Core.IsServing).WaitAsync(Deadline);
            await using (var load = await Load.StartAsync(this, leader, acked, "a"))
            {
                await load.WaitForAsync(20);
                network.Crash(follower.Id);
                await follower.CrashAsync();
                members.Remove(follower.Id);
                var epoch = EpochFile.Read(DataDir(follower.Id), EpochFile.Current);
                Assert.True(epoch == leader.State.Zxid.Epoch, $"expected the crashed follower's currentEpoch file to hold the leader's epoch {leader.State.Zxid.Epoch}, found {epoch}");
                await load.WaitForAsync(40);
            }

            members[follower.Id] = Start(follower.Id, network, seed);
            await AssertSameAsync(members.Values, leader.State.Zxid, acked);

            // Every member crashes at once, mid-load: only what each had made durable is left to restart from.
            await using (var load = await Load.StartAsync(this, leader, acked, "b"))
            {
                await load.WaitForAsync(20);
                foreach (var m in members.Values)
                {
                    network.Crash(m.Id);
                    await m.CrashAsync();
                }
            }

            foreach (var id in Voters)
                members[id] = Start(id, network, seed);
            leader = await LeaderAsync(members.Values);
            var session = await NewSessionAsync(leader);
            await EnsembleTestKit.WriteAsync(leader, session, new CreateRequest("/after", [1], Acl.OpenUnsafe, CreateMode.Persistent, -1, false), 1, Trace);
            acked.TryAdd("/after", 0);
            await AssertSameAsync(members.Values, leader.State.Zxid, acked);
        }
        finally
        {
            foreach (var m in members.Values)
                await m.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_store_refusing_an_epoch_that_goes_back_stops_the_driver_with_a_message_naming_the_files()
    {
        var dir = DataDir(1);
        using (var store = DurableConsensusStore.Open(dir))
        {
            store.Write(new WriteAcceptedEpoch(1, 7));
            store.Write(new WriteCurrentEpoch(2, 7));
        }

        // A core that forgot its epochs (here: told 0 at start) proposes epoch 1; the files hold 7.
        await using var network = new InMemoryNetwork(new InMemoryNetworkOptions { Seed = 1 });
        using var durable = DurableConsensusStore.Open(dir);
        var member = new EnsembleMember(new ConsensusConfig { MyId = 1, Voters = [1] }, network.Join(1), new Forgetful(durable),
            new SeededRandom(new Random(1)), TimeProvider.System, TimeSpan.FromMilliseconds(10), NullLogger.Instance);
        try
        {
            var stopped = await Assert.ThrowsAsync<InvalidOperationException>(() => member.Driver.Completion.WaitAsync(Deadline));
            Assert.Contains("acceptedEpoch would go back from 7 to 1", stopped.Message);
            Assert.Contains(Path.Combine(dir), stopped.Message);
            Assert.Contains(EpochFile.Accepted, stopped.Message);
            Assert.Equal(7u, EpochFile.Read(dir, EpochFile.Accepted));
        }
        finally
        {
            await member.DisposeAsync();
        }
    }

    private string DataDir(int id) => _dir.File($"server{id}");

    private EnsembleMember Start(int id, InMemoryNetwork network, int seed)
    {
        var member = new EnsembleMember(new ConsensusConfig { MyId = id, Voters = Voters, InitLimit = 100, SyncLimit = 50 }, network.Join(id),
            new ConsensusStorageOptions { DataDir = DataDir(id) }, new SeededRandom(new Random(seed + id)),
            TimeProvider.System, TimeSpan.FromMilliseconds(10), NullLogger.Instance);
        member.Driver.RoleChanged += c => _trace.Enqueue($"{id}: {c.State} {c.Phase} e{c.Epoch} ({c.Reason})");
        return member;
    }

    private async Task AssertSameAsync(IEnumerable<EnsembleMember> members, Zxid zxid, ConcurrentDictionary<string, byte> acked)
    {
        var list = members.ToList();
        await EnsembleTestKit.AssertIdenticalAsync(list, zxid, $"; trace: {string.Join(" | ", _trace)}");
        foreach (var m in list)
        {
            var missing = acked.Keys.Where(path => m.State.Find(path) is null).ToList();
            Assert.True(missing.Count == 0, $"expected server {m.Id} to hold all {acked.Count} acknowledged writes; missing {string.Join(", ", missing.Take(10))}; trace: {string.Join(" | ", _trace)}");
        }
    }

    private Task<EnsembleMember> LeaderAsync(IEnumerable<EnsembleMember> members) => EnsembleTestKit.LeaderAsync(members, Trace);

    private Task<ServerSession> NewSessionAsync(EnsembleMember leader) => EnsembleTestKit.NewSessionAsync(leader, Trace);

    private string Trace() => string.Join(" | ", _trace);

    /// <summary>
    /// Four writers creating nodes on the leader until stopped or refused; a path is recorded once its create is
    /// acknowledged. Disposing stops them and waits for their last replies.
    /// </summary>
    private sealed class Load : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly ConcurrentDictionary<string, byte> _acked;
        private Task[] _writers = [];
        private int _count;
        private volatile string? _stoppedBy;

        private Load(ConcurrentDictionary<string, byte> acked) => _acked = acked;

        /// <summary>Starts the writers once the load they count into is assigned (a writer's first ack can come at once).</summary>
        private void Start(Func<int, CancellationToken, Task>[] writers) =>
            _writers = writers.Select((w, i) => Task.Run(() => w(i, _stop.Token))).ToArray();

        public static async Task<Load> StartAsync(DurableEnsembleTests test, EnsembleMember leader, ConcurrentDictionary<string, byte> acked, string prefix)
        {
            var session = await test.NewSessionAsync(leader);
            Load? load = null;
            async Task WriteLoop(int writer, CancellationToken stop)
            {
                for (var i = 0; !stop.IsCancellationRequested; i++)
                {
                    var path = $"/{prefix}{writer}-{i}";
                    var error = await EnsembleTestKit.SubmitAsync(leader, session, new CreateRequest(path, [1], Acl.OpenUnsafe, CreateMode.Persistent, -1, false), 1 + i * 4 + writer);
                    if (error != ZkErrorCode.Ok)
                    {
                        load!._stoppedBy = $"{path}: {error}; trace: {test.Trace()}";
                        return; // the leader crashed or lost its quorum: the outcome of this one is unknown, as for a client
                    }
                    acked.TryAdd(path, 0);
                    Interlocked.Increment(ref load!._count);
                }
            }

            load = new Load(acked);
            load.Start([WriteLoop, WriteLoop, WriteLoop, WriteLoop]);
            return load;
        }

        /// <summary>Waits until <paramref name="more"/> further writes of this load are acknowledged.</summary>
        public async Task WaitForAsync(int more)
        {
            var target = Volatile.Read(ref _count) + more;
            var deadline = DateTime.UtcNow + Deadline;
            while (Volatile.Read(ref _count) < target)
            {
                Assert.True(DateTime.UtcNow < deadline, $"expected {target} acknowledged writes within {Deadline}, got {_count}");
                Assert.False(_writers.All(w => w.IsCompleted), $"expected the writers to go on; all stopped after {_count} writes, the last at {_stoppedBy}");
                await Task.WhenAny(Task.WhenAll(_writers), Task.Delay(5));
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await Task.WhenAll(_writers).WaitAsync(Deadline);
            _stop.Dispose();
        }
    }

    /// <summary>A store whose <see cref="Load"/> forgets the epochs on disk: a core bug as the store sees it.</summary>
    private sealed class Forgetful(DurableConsensusStore inner) : IConsensusStore
    {
        public ConsensusSnapshot? Snapshot => inner.Snapshot;

        public PersistedState Load() => inner.Load() with { AcceptedEpoch = 0, CurrentEpoch = 0 };

        public void Write(PersistRequest request) => inner.Write(request);

        public void Sync() => inner.Sync();

        public void Dispose()
        {
        }
    }
}
