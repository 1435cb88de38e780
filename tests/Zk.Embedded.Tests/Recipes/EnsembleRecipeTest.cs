using Xunit.Abstractions;
using Zk.Embedded.Api;
using Zk.Embedded.InProcess;
using Zk.Embedded.Tests.Ensemble;
using Zk.Embedded.Tests.Support;
using Zk.Transport.InMemory;

namespace Zk.Embedded.Tests.Recipes;

/// <summary>
/// A recipe test class's three-voter <see cref="InMemoryEnsemble"/> (seed printed), and the failures its tests inflict:
/// a session killed (it falls silent until the leader expires it) or the member a session is connected to crashing.
/// </summary>
public abstract class EnsembleRecipeTest(ITestOutputHelper output) : IAsyncLifetime
{
    /// <summary>Short enough that an expiry happens within the test, long enough to outlive a leader election (a few ticks of 100 ms).</summary>
    internal static readonly TimeSpan ShortSession = TimeSpan.FromSeconds(2);

    internal static readonly TimeSpan Deadline = EnsembleKit.Deadline;

    private readonly TraceLogger _log = new();
    private InMemoryEnsemble? _ensemble;

    internal InMemoryEnsemble Ensemble => _ensemble ?? throw new InvalidOperationException("the ensemble starts in InitializeAsync");

    internal ITestOutputHelper Output => output;

    public async Task InitializeAsync()
    {
        _ensemble = await EnsembleKit.StartAsync(output, _log, 3);
        await SettledAsync();
    }

    public async Task DisposeAsync()
    {
        if (_ensemble is not null)
        {
            await _ensemble.DisposeAsync();
        }

        output.WriteLine(_log.Tail());
    }

    /// <summary>A session on <paramref name="member"/> whose timeout is <see cref="ShortSession"/>.</summary>
    internal ValueTask<IZooKeeper> ConnectAsync(int member) =>
        Ensemble.ConnectAsync(member, new ZkSessionOptions { SessionTimeout = ShortSession });

    /// <summary>Members other than the leader, and the leader itself, in that order: a follower can crash without an election.</summary>
    internal (int A, int B, int Leader) Members()
    {
        var followers = Ensemble.Followers;
        Assert.True(followers.Count == 2 && Ensemble.Leader is not null,
            $"expected a leader and two followers, got leader {Ensemble.Leader} and followers [{string.Join(", ", followers)}]");
        return (followers[0], followers[1], Ensemble.Leader!.Value);
    }

    /// <summary>Waits until a leader and every running member serve clients, so a test starts from a whole ensemble.</summary>
    internal async Task SettledAsync()
    {
        await Ensemble.WaitForLeaderAsync(Deadline);
        await EnsembleKit.WaitAsync(
            () => Ensemble.Leader is not null && Ensemble.Followers.Count == Ensemble.Running.Count - 1 && Ensemble.Running.All(p => p.IsServing),
            () => "expected a leader and every running member serving: " + string.Join(", ", Ensemble.Running.Select(p => $"server {p.Options.ServerId} {p.Mode} serving={p.IsServing}")));
    }

    /// <summary>Kills a session as a frozen process would: it stops talking, and the ensemble expires it (its ephemerals go).</summary>
    internal async Task KillSessionAsync(IZooKeeper session)
    {
        ((InProcessSession)session).StopHeartbeats();
        await SessionGoneAsync(session.SessionId);
    }

    /// <summary>Crashes the member <paramref name="session"/> is connected to and waits until the rest of the ensemble expires the session.</summary>
    internal async Task CrashMemberOfAsync(int member, IZooKeeper session)
    {
        await Ensemble.CrashAsync(member);
        await SessionGoneAsync(session.SessionId);
    }

    /// <summary>Crashes the leader and waits for the next one; sessions on the followers live on.</summary>
    internal async Task<int> FailOverAsync()
    {
        var leader = Ensemble.Leader!.Value;
        await Ensemble.CrashAsync(leader);
        var next = await Ensemble.WaitForLeaderAsync(Deadline);
        Assert.True(next != leader, $"expected a new leader after server {leader} crashed");
        await SettledAsync();
        return Ensemble.Leader!.Value;
    }

    /// <summary>The names under <paramref name="path"/> on every running member, once they agree (none when it is gone).</summary>
    internal async Task<string[]> ChildrenEverywhereAsync(string path)
    {
        string[] Of(ZkPeer peer) => peer.Core.Pipeline.State.Find(path) is { } node ? [.. node.Children.Names().Order(StringComparer.Ordinal)] : [];
        string[] seen = [];
        await EnsembleKit.WaitAsync(() =>
        {
            var all = Ensemble.Running.Select(p => string.Join(",", Of(p))).Distinct().ToArray();
            seen = all.Length == 1 ? Of(Ensemble.Running[0]) : [];
            return all.Length == 1;
        }, () => $"expected every member to agree on the children of {path}");
        return seen;
    }

    /// <summary>Waits until no running member has <paramref name="sessionId"/> (ZooKeeper's closeSession txn for the expiry was applied).</summary>
    private async Task SessionGoneAsync(long sessionId) =>
        await EnsembleKit.WaitAsync(
            () => Ensemble.Running.All(p => !p.Core.Pipeline.State.Sessions.ContainsKey(new SessionId(sessionId))),
            () => $"expected session 0x{sessionId:x} to expire on every running member within {Deadline}");
}
