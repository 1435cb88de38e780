using System.Collections.Concurrent;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit.Abstractions;
using Zk.Embedded.Api;
using Zk.Embedded.Consensus;
using Zk.Embedded.Ensemble;
using Zk.Embedded.Processing;
using Zk.Embedded.Sessions;
using Zk.Testing.Simulation;
using Zk.Embedded.Tests.Replication;
using Zk.Transport.InMemory;

namespace Zk.Embedded.Tests.Ensemble;

/// <summary>
/// Voters as <see cref="EnsembleMember"/>s over one <see cref="InMemoryNetwork"/>, for the client-traffic tests
/// (forwarding, global sessions): started from a printed seed, with every role change traced for failure messages.
/// </summary>
internal sealed class TrafficEnsemble : IAsyncDisposable
{
    public static readonly TimeSpan Deadline = EnsembleTestKit.Deadline;
    private readonly ConcurrentQueue<string> _trace = new();
    private readonly int[] _voters;
    private readonly int _seed;

    private TrafficEnsemble(ITestOutputHelper output, int voters)
    {
        _seed = Environment.GetEnvironmentVariable("ZK_SEED") is { } s ? int.Parse(s) : Random.Shared.Next();
        output.WriteLine($"seed={_seed} (set ZK_SEED to replay)");
        _voters = Enumerable.Range(1, voters).ToArray();
        Network = new InMemoryNetwork(new InMemoryNetworkOptions { Seed = _seed });
        foreach (var id in _voters)
            Members[id] = Start(id);
    }

    public InMemoryNetwork Network { get; }

    /// <summary>The running members by id (a crashed one is removed).</summary>
    public Dictionary<int, EnsembleMember> Members { get; } = [];

    public Dictionary<int, ConsensusLog> Disks { get; } = [];

    /// <summary>Tick length: sessions time out in ticks of the leader's clock.</summary>
    public static readonly TimeSpan TickTime = TimeSpan.FromMilliseconds(10);

    /// <summary>An ensemble of <paramref name="voters"/> with a leader and every member serving.</summary>
    public static async Task<TrafficEnsemble> StartAsync(ITestOutputHelper output, int voters = 3)
    {
        var ensemble = new TrafficEnsemble(output, voters);
        await ensemble.AllServingAsync();
        return ensemble;
    }

    public string Trace() => string.Join(" | ", _trace);

    public Task<EnsembleMember> LeaderAsync() => EnsembleTestKit.LeaderAsync(Members.Values, Trace);

    /// <summary>The members that follow, once a leader leads and every member serves.</summary>
    public async Task<List<EnsembleMember>> FollowersAsync()
    {
        var leader = await AllServingAsync();
        return Members.Values.Where(m => m != leader).ToList();
    }

    /// <summary>Waits for a leader and for every running member to serve; the leader.</summary>
    public async Task<EnsembleMember> AllServingAsync()
    {
        var leader = await LeaderAsync();
        foreach (var m in Members.Values)
        {
            await WaitAsync(m, () => m.IsServing && m.Driver.Current.Leader == leader.Id,
                $"server {m.Id} to serve under leader {leader.Id}");
        }

        return leader;
    }

    /// <summary>Waits, on <paramref name="member"/>'s loop, until <paramref name="condition"/> holds.</summary>
    public async Task WaitAsync(EnsembleMember member, Func<bool> condition, string what)
    {
        using var cts = new CancellationTokenSource(Deadline);
        try
        {
            await member.Driver.WaitUntilAsync(condition, cts.Token);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"expected {what} within {Deadline}; trace: {Trace()}");
        }
    }

    /// <summary>Waits until every running member has published <paramref name="zxid"/> (or one newer, the same) and asserts their trees identical.</summary>
    public Task AssertIdenticalAsync(Zxid zxid) => EnsembleTestKit.AssertIdenticalAsync(Members.Values, zxid);

    /// <summary>A session created through <paramref name="member"/> (leader or follower) with the given timeout.</summary>
    public async Task<ServerSession> NewSessionAsync(EnsembleMember member, int timeoutMillis = 30_000)
    {
        var id = member.Sessions.NextSessionId();
        var session = new ServerSession(id, member.Sessions.PasswordFor(id), timeoutMillis, SessionTracker.LocalIds);
        member.Sessions.Add(session);
        var answer = await SubmitAsync(member, session, new CreateSessionRequest(timeoutMillis), 0);
        Assert.True(answer.Error == ZkErrorCode.Ok, $"expected createSession through server {member.Id} to succeed, got {answer.Error}; trace: {Trace()}");
        return session;
    }

    /// <summary>Submits through <paramref name="member"/> and awaits the reply (a refusal as a reply with its code).</summary>
    public static async Task<Reply> SubmitAsync(EnsembleMember member, ServerSession session, PipelineRequest request, int cxid)
    {
        var answer = new EnsembleTestKit.Answer();
        try
        {
            await member.SubmitAsync(new PendingWrite(session, request, answer, Cxid: cxid));
        }
        catch (ZkException e)
        {
            return new Reply(e.Code, e.Path, null, default, null!);
        }

        return await answer.Reply.WaitAsync(Deadline);
    }

    /// <summary>Submits and asserts success.</summary>
    public async Task<Reply> WriteAsync(EnsembleMember member, ServerSession session, PipelineRequest request, int cxid)
    {
        var reply = await SubmitAsync(member, session, request, cxid);
        Assert.True(reply.Error == ZkErrorCode.Ok,
            $"expected {request.GetType().Name} (cxid {cxid}) through server {member.Id} to succeed, got {reply.Error}; trace: {Trace()}");
        return reply;
    }

    /// <summary>Stops a member as a killed process (its disk stays for <see cref="Restart"/>).</summary>
    public async Task CrashAsync(int id)
    {
        Network.Crash(id);
        var member = Members[id];
        Members.Remove(id);
        await member.DisposeAsync();
    }

    public EnsembleMember Restart(int id) => Members[id] = Start(id);

    private EnsembleMember Start(int id)
    {
        if (!Disks.TryGetValue(id, out var disk))
            Disks[id] = disk = new ConsensusLog();
        // Limits of 0.5-1 s keep a leader through a stall of this shared machine (see EnsembleMemberTests).
        var config = new ConsensusConfig { MyId = id, Voters = _voters, InitLimit = 100, SyncLimit = 50 };
        var member = new EnsembleMember(config, Network.Join(id), disk, new SeededRandom(new Random(_seed + id)),
            TimeProvider.System, TickTime, NullLogger.Instance);
        member.Driver.RoleChanged += c => _trace.Enqueue($"{id}: {c.State} {c.Phase} e{c.Epoch} ({c.Reason})");
        return member;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var m in Members.Values)
            await m.DisposeAsync();
        await Network.DisposeAsync();
    }
}
