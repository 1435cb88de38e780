using Xunit.Abstractions;
using Zk.Embedded.Api;
using Zk.Embedded.Tests.Ensemble;
using Zk.Embedded.Tests.Support;

namespace Zk.Embedded.Tests.Robustness;

/// <summary>
/// The pipeline's fault rule across an ensemble: the request fuzz (<see cref="FuzzRequests"/>) runs through a
/// follower, whose writes go to the leader as forwarded requests (a request the follower takes but the leader cannot
/// decode, or decodes otherwise, would show here), and through the leader, in process and as hostile frames on each
/// one's client port; between batches a session moves from one to the other (a reattach, held until the leader has
/// answered its claim). After every batch every member takes a write from a fresh session, and at the end every
/// member's tree is identical (digests) and holds every probe. Three durable voters over the in-memory transport; the
/// network's seed and the fuzz's are printed (ZK_SEED, ZK_FUZZ_SEED and ZK_FUZZ_ITERATIONS replay or lengthen it).
/// </summary>
public sealed class EnsembleRequestFuzzTests(ITestOutputHelper output) : IDisposable
{
    private const int DefaultSeed = 20_261_207;
    private const int DefaultBatches = 12;
    private readonly TraceLogger _log = new();

    [Fact]
    public async Task Random_requests_through_a_follower_and_the_leader_leave_every_member_writable_and_the_trees_identical()
    {
        var (seed, batches) = FuzzRounds.FromEnvironment(DefaultSeed, DefaultBatches);
        output.WriteLine($"fuzz seed={seed} batches={batches} (set ZK_FUZZ_SEED and ZK_FUZZ_ITERATIONS to replay or run longer)");
        await using var ensemble = await EnsembleKit.StartAsync(output, _log, 3, o => o with
        {
            Durable = true,
            Peer = o.Peer with { ClientPort = 0, MaxClientConnections = 0, ExtendedTypesEnabled = true, SuperDigest = FuzzRounds.SuperDigest },
        });
        var leader = ensemble[ensemble.Leader!.Value];
        var follower = ensemble[ensemble.Followers[0]];
        var fuzz = new FuzzRequests(new Random(seed), leader.Options.MaxDataBytes);
        await using (var setup = await leader.ConnectAsync())
        {
            await setup.CreateAsync("/f");
            await setup.CreateAsync("/zookeeperx");
        }

        var sessions = new Dictionary<ZkPeer, IZooKeeper[]> { [follower] = new IZooKeeper[3], [leader] = new IZooKeeper[3] };
        var probes = new List<string>();
        var moves = 0;
        for (var batch = 0; batch < batches; batch++)
        {
            if (batch > 0 && await MoveASessionAsync(batch % 2 == 0 ? (follower, leader) : (leader, follower), sessions, $"fuzz seed={seed} batch {batch}"))
                moves++;
            foreach (var (member, memberSessions) in sessions)
            {
                var where = $"fuzz seed={seed} batch {batch} on server {member.Options.ServerId} ({member.Mode})";
                await FuzzRounds.RunCallsAsync(member, memberSessions, fuzz, where);
                await FuzzRounds.RunFramesAsync(member, fuzz, where, output);
            }

            foreach (var member in ensemble.Running)
                probes.Add(await FuzzRounds.AssertWritableAsync(member, $"/probe-{batch}-{member.Options.ServerId}", $"fuzz seed={seed} batch {batch} on server {member.Options.ServerId} ({member.Mode})"));
        }

        foreach (var session in sessions.Values.SelectMany(s => s))
        {
            if (session is not null)
                await session.DisposeAsync();
        }

        Assert.True(ensemble.Leader == (int)leader.Options.ServerId, $"fuzz seed={seed}: expected the leader to stay for the whole run, server {ensemble.Leader} leads now");
        await EnsembleKit.AssertConvergedAsync(ensemble, p => probes.TrueForAll(probe => p.Core.Pipeline.State.Find(probe) is not null));
        output.WriteLine($"{batches} batches, {moves} sessions moved, {leader.Core.Pipeline.State.NodeCount} znodes, zxid {leader.Core.Pipeline.State.Zxid}");
    }

    /// <summary>
    /// Reattaches a live session of <paramref name="from"/> on <paramref name="to"/>, in place of one of its own (closed):
    /// the fuzz goes on with it there, and the handle it left is not used again.
    /// </summary>
    private static async Task<bool> MoveASessionAsync((ZkPeer From, ZkPeer To) move, Dictionary<ZkPeer, IZooKeeper[]> sessions, string where)
    {
        var (from, to) = move;
        var slot = Array.FindIndex(sessions[from], s => s is { State: SessionState.Connected });
        if (slot < 0)
            return false;
        var leaving = sessions[from][slot];
        var options = new ZkSessionOptions { SessionId = leaving.SessionId, SessionPassword = leaving.SessionPassword, LastZxidSeen = leaving.LastZxidSeen };
        IZooKeeper? moved = null;
        await EnsembleKit.RetryOnConnectionLossAsync(async () => moved = await to.ConnectAsync(options));   // refused while `to` is behind the session
        if (sessions[to][slot] is { } replaced)
            await replaced.DisposeAsync();
        sessions[to][slot] = moved!;
        sessions[from][slot] = null!;
        Assert.True(moved!.State == SessionState.Connected, $"{where}: expected session {leaving.SessionId:x} connected on server {to.Options.ServerId} after the move, it is {moved.State}");
        return true;
    }

    public void Dispose() => output.WriteLine(_log.Tail());
}
