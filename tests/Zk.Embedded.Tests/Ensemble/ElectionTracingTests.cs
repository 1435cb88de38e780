using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit.Abstractions;
using Zk.Embedded.Consensus;
using Zk.Embedded.Ensemble;
using Zk.Testing.Simulation;
using Zk.Embedded.Tests.Metrics;
using Zk.Embedded.Tests.Support;
using Zk.Transport.InMemory;

namespace Zk.Embedded.Tests.Ensemble;

/// <summary>
/// The "zk election" span of the Zk.Embedded ActivitySource: one per member per election, from LOOKING until the
/// member serves in an established epoch, tagged with the role it took, the epoch and the leader. Server ids of their
/// own keep other tests' ensembles out of the spans seen here.
/// </summary>
public sealed class ElectionTracingTests : IDisposable
{
    private static readonly int[] Voters = [81, 82, 83];
    private readonly SpanRecorder _spans = new();
    private readonly ITestOutputHelper _output;

    public ElectionTracingTests(ITestOutputHelper output) => _output = output;

    public void Dispose() => _spans.Dispose();

    [Fact]
    public async Task Each_member_traces_its_election_until_it_serves_with_its_role_epoch_and_leader()
    {
        var seed = Random.Shared.Next();
        _output.WriteLine($"seed={seed}");
        await using var network = new InMemoryNetwork(new InMemoryNetworkOptions { Seed = seed });
        var members = Voters.Select(id => new EnsembleMember(
            new ConsensusConfig { MyId = id, Voters = Voters, InitLimit = 100, SyncLimit = 50 }, network.Join(id), new ConsensusLog(),
            new SeededRandom(new Random(seed + id)), TimeProvider.System, TimeSpan.FromMilliseconds(10), NullLogger.Instance)).ToList();
        try
        {
            var leader = await EnsembleTestKit.LeaderAsync(members, () => "");
            await Eventually.TrueAsync(() => Voters.All(id => Elections().Any(a => (int)a.GetTagItem("zk.server_id")! == id)), "an election span stopped for each of servers 81-83");

            var spans = Voters.Select(id => Elections().First(a => (int)a.GetTagItem("zk.server_id")! == id)).ToList();
            Assert.Equal(["Leading"], spans.Where(a => (int)a.GetTagItem("zk.server_id")! == leader.Id).Select(a => (string)a.GetTagItem("zk.state")!));
            Assert.All(spans.Where(a => (int)a.GetTagItem("zk.server_id")! != leader.Id), a => Assert.Equal("Following", a.GetTagItem("zk.state")));
            Assert.Single(spans.Select(a => a.GetTagItem("zk.epoch")).Distinct());
            Assert.All(spans, a => Assert.Equal(leader.Id, a.GetTagItem("zk.leader")));
            Assert.All(spans, a => Assert.Null(a.Parent));
        }
        finally
        {
            foreach (var member in members)
                await member.DisposeAsync();
        }
    }

    private List<Activity> Elections() => _spans.Stopped.Where(a => a.OperationName == "zk election" && a.GetTagItem("zk.server_id") is int id && Voters.Contains(id)).ToList();
}
