using Xunit.Abstractions;
using Zk.Embedded.Api;
using Zk.Embedded.Tests.Ensemble;
using Zk.Embedded.Tests.Support;

namespace Zk.Embedded.Tests.Robustness;

/// <summary>
/// The pipeline's fault rule across an ensemble: the request fuzz (<see cref="FuzzRequests"/>) runs through a follower
/// and an observer, whose writes go to the leader as forwarded requests (a request one takes but the leader cannot
/// decode, or decodes otherwise, would show here), and through the leader, in process and as hostile frames on each
/// one's client port. Between batches a session moves from one of them to the next (a reattach, held until the leader
/// has answered its claim); every fifth batch the leader is killed and restarted, and every seventh the follower is
/// cut off for the batch and must catch up once healed. After every batch every member takes a write from a fresh
/// session, and at the end every member's tree is identical (digests) and holds every probe. Three durable voters and
/// an observer over the in-memory transport; the network's seed and the fuzz's are printed (ZK_SEED, ZK_FUZZ_SEED and
/// ZK_FUZZ_ITERATIONS replay or lengthen it).
/// </summary>
public sealed class EnsembleRequestFuzzTests(ITestOutputHelper output) : IDisposable
{
    private const int DefaultSeed = 20_261_207;
    private const int DefaultBatches = 12;
    private const int FailoverEvery = 5;
    private const int PartitionEvery = 7;

    /// <summary>The members the fuzz goes through, by role; a session moves from each to the next in turn.</summary>
    private static readonly string[] Roles = ["follower", "leader", "observer"];
    private readonly TraceLogger _log = new();

    [Fact]
    public async Task Random_requests_through_every_kind_of_member_across_moves_kills_and_partitions_leave_every_member_writable_and_lose_no_acknowledged_write()
    {
        var (seed, batches) = FuzzRounds.FromEnvironment(DefaultSeed, DefaultBatches);
        output.WriteLine($"fuzz seed={seed} batches={batches} (set ZK_FUZZ_SEED and ZK_FUZZ_ITERATIONS to replay or run longer)");
        await using var ensemble = await EnsembleKit.StartAsync(output, _log, 3, o => o with
        {
            Durable = true,
            Observers = 1,
            Peer = o.Peer with { ClientPort = 0, MaxClientConnections = 0, ExtendedTypesEnabled = true, SuperDigest = FuzzRounds.SuperDigest },
        });
        var fuzz = new FuzzRequests(new Random(seed), ensemble[ensemble.Leader!.Value].Options.MaxDataBytes);
        await using (var setup = await ensemble.ConnectAsync(ensemble.Leader!.Value))
        {
            await setup.CreateAsync("/f");
            await setup.CreateAsync("/zookeeperx");
        }

        // Sessions by the role of the member they were opened on (a failover moves the roles, not the sessions).
        var sessions = Roles.ToDictionary(role => role, _ => new IZooKeeper[3]);
        var probes = new List<string>();
        var (moves, failovers, partitions) = (0, 0, 0);
        for (var batch = 0; batch < batches; batch++)
        {
            var at = $"fuzz seed={seed} batch {batch}";
            var members = new Dictionary<string, ZkPeer>
            {
                ["follower"] = ensemble[ensemble.Followers[0]],
                ["leader"] = ensemble[ensemble.Leader!.Value],
                ["observer"] = ensemble.Running.Single(p => p.Mode == PeerMode.Observer),
            };
            if (batch > 0 && await MoveASessionAsync((Roles[batch % Roles.Length], Roles[(batch + 1) % Roles.Length]), members, sessions, at))
                moves++;
            // Now and then the follower is cut off for a batch: the others go on (a quorum), and it must catch up on
            // whatever txns the batch made, by DIFF (or TRUNC, SNAP), once the partition heals.
            var cutOff = batch % PartitionEvery == PartitionEvery - 1 ? members["follower"] : null;
            if (cutOff is not null)
                ensemble.Partition((int)cutOff.Options.ServerId);
            foreach (var (role, member) in members)
            {
                if (member == cutOff)
                    continue;
                // A member may stop serving for a moment between batches (with one voter cut off, a slow other one
                // costs the leader its quorum: seed 7207, batch 272), and a member that does not serve closes new
                // connections, as ZooKeeper's does: each round starts once its member serves.
                await EnsembleKit.WaitAsync(() => member.IsServing, () => $"{at}: expected server {member.Options.ServerId} to serve again; it is {member.Mode}");
                var where = $"{at} on server {member.Options.ServerId} ({member.Mode})";
                await FuzzRounds.RunCallsAsync(member, sessions[role], fuzz, where);
                await FuzzRounds.RunFramesAsync(member, fuzz, where, output);
            }

            foreach (var member in ensemble.Running.Where(m => m != cutOff))
                probes.Add(await FuzzRounds.AssertWritableAsync(member, $"/probe-{batch}-{member.Options.ServerId}", $"{at} on server {member.Options.ServerId} ({member.Mode})"));
            if (cutOff is not null)
            {
                ensemble.Heal();
                await EnsembleKit.WaitAsync(() => ensemble.Running.All(p => p.IsServing) && cutOff.LastZxid >= ensemble[ensemble.Leader!.Value].LastZxid,
                    () => $"{at}: expected server {cutOff.Options.ServerId} to catch up and serve after the partition healed: "
                        + string.Join(", ", ensemble.Running.Select(p => $"{p.Options.ServerId} {p.Mode} zxid {p.LastZxid:x}")));
                partitions++;
            }

            if (batch % FailoverEvery == FailoverEvery - 1)
            {
                // The leader dies as a killed process between batches (nothing in flight), and comes back as a follower:
                // every probe acknowledged so far must be on every member at the end.
                var old = ensemble.Leader!.Value;
                await ensemble.CrashAsync(old);
                await ensemble.WaitForLeaderAsync();
                await ensemble.RestartAsync(old);
                await EnsembleKit.WaitAsync(() => ensemble.Running.Count == 4 && ensemble.Running.All(p => p.IsServing),
                    () => $"{at}: expected every member to serve again after server {old} was killed and restarted: "
                        + string.Join(", ", ensemble.Running.Select(p => $"{p.Options.ServerId} {p.Mode}")));
                failovers++;
            }
        }

        foreach (var session in sessions.Values.SelectMany(s => s))
        {
            if (session is not null)
                await session.DisposeAsync();
        }

        await EnsembleKit.AssertConvergedAsync(ensemble, p => probes.TrueForAll(probe => p.Core.Pipeline.State.Find(probe) is not null));
        var final = ensemble[ensemble.Leader!.Value].Core.Pipeline.State;
        output.WriteLine($"{batches} batches, {moves} sessions moved, {failovers} leaders killed, {partitions} followers cut off, {_log.Lines.Count(l => l.Contains(" syncs learner ", StringComparison.Ordinal))} learner syncs, {final.NodeCount} znodes, zxid {final.Zxid}");
    }

    /// <summary>
    /// Reattaches a live session opened through the member of one role on the member of another, in place of one of the
    /// latter's (closed): the fuzz goes on with it there. The handle it left is not used again, nor disposed (that
    /// would close the session).
    /// </summary>
    private static async Task<bool> MoveASessionAsync((string From, string To) move, Dictionary<string, ZkPeer> members, Dictionary<string, IZooKeeper[]> sessions, string where)
    {
        var (from, toRole) = move;
        var to = members[toRole];
        var slot = Array.FindIndex(sessions[from], s => s is { State: SessionState.Connected });
        if (slot < 0)
            return false;
        var leaving = sessions[from][slot];
        var options = new ZkSessionOptions { SessionId = leaving.SessionId, SessionPassword = leaving.SessionPassword, LastZxidSeen = leaving.LastZxidSeen };
        IZooKeeper? moved = null;
        await EnsembleKit.RetryOnConnectionLossAsync(async () => moved = await to.ConnectAsync(options));   // refused while `to` is behind the session
        if (sessions[toRole][slot] is { } replaced)
            await replaced.DisposeAsync();
        sessions[toRole][slot] = moved!;
        sessions[from][slot] = null!;
        Assert.True(moved!.State == SessionState.Connected, $"{where}: expected session {leaving.SessionId:x} connected on server {to.Options.ServerId} after the move, it is {moved.State}");
        return true;
    }

    public void Dispose() => output.WriteLine(_log.Tail());
}
