using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit.Abstractions;
using Zk.Embedded.Api;
using Zk.Embedded.Consensus;
using Zk.Embedded.Ensemble;
using Zk.Testing.Simulation;
using Zk.Transport.InMemory;

namespace Zk.Embedded.Tests.Ensemble;

/// <summary>
/// Three <see cref="ConsensusDriver"/>s, each on its own loop with a real timer, over <see cref="InMemoryNetwork"/>:
/// they elect one leader, commit what it proposes on every member in zxid order, and after the leader crashes elect
/// another, go on committing, and the old leader restarted from its consensus log catches up.
/// </summary>
public sealed class ConsensusDriverTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private static readonly int[] Voters = [1, 2, 3];

    // Ticks of 10 ms keep elections fast; limits of 0.5-1 s keep a leader through a pause of this shared machine
    // (at zoo.cfg's 5-tick syncLimit a 50 ms stall under load cost the leader its quorum mid-test).

    [Fact]
    public async Task Three_drivers_elect_one_leader_commit_its_proposals_everywhere_and_survive_its_crash()
    {
        await RunAsync(async (network, members, seed) =>
        {
            var leader = await LeaderAsync(members.Values);
            await ProposeAsync(leader, 10);
            await AllAppliedAsync(members.Values, 10);

            var old = leader;
            await old.CrashAsync(network);
            var rest = members.Values.Where(m => m != old).ToList();
            leader = await LeaderAsync(rest);
            Assert.True(leader.Driver!.Current.EstablishedEpoch > old.State.Applied[^1].Zxid.Epoch,
                $"expected the new leader's epoch above the old one's {old.State.Applied[^1].Zxid.Epoch}, got {leader.Driver.Current.EstablishedEpoch}");
            await ProposeAsync(leader, 5);
            await AllAppliedAsync(rest, 15);

            old.Start(network, seed);
            await AllAppliedAsync(members.Values, 15);
            var history = members.Values.Select(m => string.Join(',', m.State.Applied.Select(t => t.Zxid))).Distinct().ToList();
            Assert.True(history.Count == 1, $"expected one history on every member, got: {string.Join(" | ", history)}");
        });
    }

    [Fact]
    public async Task A_leader_whose_proposal_is_refused_ends_its_term_so_that_a_new_one_takes_writes()
    {
        await RunAsync(async (network, members, seed) =>
        {
            var leader = await LeaderAsync(members.Values);
            await ProposeAsync(leader, 3);
            var epoch = leader.Driver!.Current.EstablishedEpoch!.Value;
            var refused = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            leader.Driver.ProposalRefused += (_, reason) => refused.TrySetResult(reason);

            // A zxid the core would not assign (its counter is at 3): the pipeline that sent it is out of step.
            leader.Driver.Propose([new ConsensusTxn(new Zxid(epoch, 9), "skips"u8.ToArray())]);
            Assert.Contains("next zxid is", await refused.Task.WaitAsync(Deadline), StringComparison.Ordinal);

            var next = await NewTermAsync(members.Values, epoch);
            await ProposeAsync(next, 2);
            await AllAppliedAsync(members.Values, 5);   // the refused txn committed nowhere
        });
    }

    [Fact]
    public async Task A_proposal_reaching_a_member_that_no_longer_leads_is_refused_without_ending_its_following()
    {
        await RunAsync(async (network, members, seed) =>
        {
            var leader = await LeaderAsync(members.Values);
            await ProposeAsync(leader, 1);
            var follower = members.Values.First(m => m != leader);
            await follower.Driver!.WaitUntilAsync(() => follower.Driver.Core.IsServing).WaitAsync(Deadline);   // synced, following
            var epoch = leader.Driver!.Current.EstablishedEpoch!.Value;
            var refused = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            follower.Driver!.ProposalRefused += (_, reason) => refused.TrySetResult(reason);

            // As an old term's pipeline may still hand over a batch after its member went back to following.
            follower.Driver.Propose([new ConsensusTxn(new Zxid(epoch, 2), "stale"u8.ToArray())]);
            Assert.Contains("no longer an established leader", await refused.Task.WaitAsync(Deadline), StringComparison.Ordinal);
            await follower.Driver.WaitUntilAsync(() => true).WaitAsync(Deadline);   // after the refusal, on the same loop
            var status = follower.Driver.Current;
            Assert.True(status is { State: ServerState.Following, IsServing: true } && status.Leader == leader.Driver.Id,
                $"expected the follower to go on following server {leader.Driver.Id}, it is {status.State} (serving {status.IsServing}, leader {status.Leader})");
        });
    }

    private static async Task<Member> NewTermAsync(IEnumerable<Member> members, uint after)
    {
        var list = members.ToList();
        using var cts = new CancellationTokenSource(Deadline);
        try
        {
            await Task.WhenAny(list.Select(m => m.Driver!.WaitUntilAsync(() => m.Driver.Core.EstablishedEpoch > after && m.Driver.Core.IsServing, cts.Token)));
        }
        catch (OperationCanceledException)
        {
        }

        return list.SingleOrDefault(m => m.Driver!.Current.EstablishedEpoch > after)
            ?? throw new Xunit.Sdk.XunitException($"expected a leader of an epoch above {after} within {Deadline}: the refused leader kept its term");
    }

    /// <summary>Three members on a seeded network (the seed printed), stopped whatever the body does.</summary>
    private async Task RunAsync(Func<InMemoryNetwork, Dictionary<int, Member>, int, Task> body)
    {
        var seed = Environment.GetEnvironmentVariable("ZK_SEED") is { } s ? int.Parse(s) : Random.Shared.Next();
        output.WriteLine($"seed={seed} (set ZK_SEED to replay)");
        await using var network = new InMemoryNetwork(new InMemoryNetworkOptions { Seed = seed });
        var members = Voters.ToDictionary(id => id, id => new Member(id, network, seed));
        try
        {
            await body(network, members, seed);
        }
        finally
        {
            foreach (var m in members.Values)
                await m.StopAsync();
        }
    }

    private static async Task<Member> LeaderAsync(IEnumerable<Member> members)
    {
        var list = members.ToList();
        using var cts = new CancellationTokenSource(Deadline);
        var won = await Task.WhenAny(list.Select(m => m.Driver!.WaitUntilAsync(() => m.Driver.Core.EstablishedEpoch is not null && m.Driver.Core.IsServing, cts.Token)));
        await won;
        return list.Single(m => m.Driver!.Current.EstablishedEpoch is not null);
    }

    private static async Task ProposeAsync(Member leader, int count)
    {
        var epoch = leader.Driver!.Current.EstablishedEpoch!.Value;
        var last = leader.State.Applied.Count > 0 && leader.State.Applied[^1].Zxid.Epoch == epoch ? leader.State.Applied[^1].Zxid.Counter : 0u;
        var txns = Enumerable.Range(1, count)
            .Select(i => new ConsensusTxn(new Zxid(epoch, last + (uint)i), Encoding.UTF8.GetBytes($"txn {epoch}.{i}")))
            .ToList();
        leader.Driver.Propose(txns);
        using var cts = new CancellationTokenSource(Deadline);
        await leader.Driver.WaitUntilAsync(() => leader.State.Applied.Count > 0 && leader.State.Applied[^1].Zxid == txns[^1].Zxid, cts.Token);
    }

    private static async Task AllAppliedAsync(IEnumerable<Member> members, int count)
    {
        using var cts = new CancellationTokenSource(Deadline);
        foreach (var m in members)
        {
            try
            {
                await m.Driver!.WaitUntilAsync(() => m.State.Applied.Count == count, cts.Token);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"expected peer {m.Id} to apply {count} txns within {Deadline}; it applied {m.State.Applied.Count}");
            }
        }
    }

    /// <summary>One member: its consensus log (its "disk") outlives its driver, as a disk outlives a process.</summary>
    private sealed class Member
    {
        public Member(int id, InMemoryNetwork network, int seed)
        {
            Id = id;
            Start(network, seed);
        }

        public int Id { get; }
        public ConsensusLog Disk { get; } = new();
        public ListState State { get; private set; } = new();
        public ConsensusDriver? Driver { get; private set; }

        public void Start(InMemoryNetwork network, int seed)
        {
            State = ListState.From(Disk);
            var config = new ConsensusConfig { MyId = Id, Voters = Voters, InitLimit = 100, SyncLimit = 50 };
            Driver = new ConsensusDriver(config, network.Join(Id), Disk, State, new SeededRandom(new Random(seed + Id)),
                TimeProvider.System, TimeSpan.FromMilliseconds(10), NullLogger.Instance);
        }

        public async Task CrashAsync(InMemoryNetwork network)
        {
            network.Crash(Id);
            await StopAsync();
        }

        public async Task StopAsync()
        {
            if (Driver is { } d)
                await d.DisposeAsync();
            Driver = null;
        }
    }

    /// <summary>The applied txns themselves as the state (the harness's snapshot codec), checked for zxid order.</summary>
    private sealed class ListState : IReplicatedState
    {
        public List<ConsensusTxn> Applied { get; private set; } = [];

        public static ListState From(ConsensusLog disk)
        {
            var state = new ListState();
            if (disk.Snapshot is { } snapshot)
                state.Restore(snapshot);
            return state;
        }

        public ConsensusSnapshot Take() => new(Applied.Count > 0 ? Applied[^1].Zxid : default, SnapshotCodec.Encode(Applied));

        public void Restore(ConsensusSnapshot snapshot) => Applied = SnapshotCodec.Decode(SnapshotBody.BytesOf(snapshot));

        public void Apply(ConsensusTxn txn)
        {
            var last = Applied.Count > 0 ? Applied[^1].Zxid : default;
            if (!LogWindow.IsNext(last, txn.Zxid))
                throw new InvalidOperationException($"applied {txn.Zxid} after {last}, out of order");
            Applied.Add(txn);
        }
    }
}
