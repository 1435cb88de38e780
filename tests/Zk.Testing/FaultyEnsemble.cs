using System.Diagnostics;
using System.Text;
using Zk.Embedded;
using Zk.Embedded.Api;
using Zk.Testing.History;
using Zk.Transport.InMemory;

namespace Zk.Testing;

/// <summary>The kinds of fault a <see cref="FaultyEnsemble"/> draws from.</summary>
[Flags]
public enum FaultKinds
{
    /// <summary>A member crashes (its connections close at once) and later restarts from its disk.</summary>
    Crash = 1,

    /// <summary>A member is cut off from the others both ways, silently, and later healed.</summary>
    Partition = 2,

    /// <summary>One direction between two members is blocked: one hears the other but not the reverse.</summary>
    OneWayBlock = 4,

    /// <summary>A member stops as a frozen process (SIGSTOP, a long GC pause) and later resumes.</summary>
    Pause = 8,

    /// <summary>Every kind.</summary>
    All = Crash | Partition | OneWayBlock | Pause,
}

/// <summary>One fault applied or ended, at its time from the start of <see cref="FaultyEnsemble.RunAsync"/>.</summary>
/// <param name="At">time from the start of the run</param>
/// <param name="What">what happened, e.g. <c>crash 2</c> or <c>restart 2</c></param>
public sealed record FaultEvent(TimeSpan At, string What);

/// <summary>How a <see cref="FaultyEnsemble"/> is made and how often it fails.</summary>
public sealed record FaultyEnsembleOptions
{
    /// <summary>Voting members (3 or 5 in most tests).</summary>
    public int Voters { get; init; } = 3;

    /// <summary>The kinds of fault drawn.</summary>
    public FaultKinds Faults { get; init; } = FaultKinds.All;

    /// <summary>Mean time between one fault's start and its end, and between faults (each drawn from half to one and a half times it).</summary>
    public TimeSpan FaultInterval { get; init; } = TimeSpan.FromMilliseconds(400);

    /// <summary>
    /// How many faults may be in effect at once, each on a different member (1: one at a time, so a quorum always
    /// remains). With more, enough of them together can take the quorum away for a while: writes then fail with
    /// ConnectionLoss until enough heal, which is what the code under test should survive.
    /// </summary>
    public int ConcurrentFaults { get; init; } = 1;

    /// <summary>The members' own options (tickTime, limits, observers); the in-memory ensemble's defaults otherwise.</summary>
    public InMemoryEnsembleOptions Ensemble { get; init; } = new();
}

/// <summary>
/// An in-process ensemble (<see cref="InMemoryEnsemble"/>, the real peers, consensus and transport) that fails while
/// the code under test runs: faults drawn from one seeded random source, by default one at a time so that at most one
/// member is down or cut off and the ensemble can always make progress (<see cref="FaultyEnsembleOptions.ConcurrentFaults"/>
/// for more). Sessions from <see cref="ConnectAsync"/> record their operations in <see cref="History"/>, whose
/// <see cref="OperationHistory.Check"/> searches them for a linearizability violation. After the run everything heals
/// and <see cref="CheckConvergedAsync"/> compares every member's tree. The same seed gives the same schedule of faults
/// (which kinds, which members, in which order); thread scheduling is not replayed, so the interleaving with the
/// code under test differs from run to run (<see cref="Simulation.DeterministicEnsemble"/> replays everything, the
/// code under test included, on virtual time with the members' drivers and pipelines modelled around their real parts).
/// </summary>
public sealed class FaultyEnsemble : IAsyncDisposable
{
    private readonly FaultyEnsembleOptions _options;
    private readonly Random _random;
    private readonly List<FaultEvent> _schedule = [];
    private readonly Stopwatch _clock = new();
    private readonly HashSet<int> _faulted = [];

    private FaultyEnsemble(int seed, FaultyEnsembleOptions options, InMemoryEnsemble ensemble)
    {
        (Seed, _options, Ensemble) = (seed, options, ensemble);
        _random = new Random(seed);
    }

    /// <summary>The seed: print it with a failure, start again with it to get the same schedule.</summary>
    public int Seed { get; }

    /// <summary>The ensemble underneath, for anything the faults do not cover.</summary>
    public InMemoryEnsemble Ensemble { get; }

    /// <summary>What every session from <see cref="ConnectAsync"/> did and saw; <see cref="OperationHistory.Check"/> it after the run.</summary>
    public OperationHistory History { get; } = new();

    /// <summary>The faults applied and ended so far, in order.</summary>
    public IReadOnlyList<FaultEvent> Schedule
    {
        get { lock (_schedule) return [.. _schedule]; }
    }

    /// <summary>Starts <see cref="FaultyEnsembleOptions.Voters"/> members and waits until a leader serves.</summary>
    public static async Task<FaultyEnsemble> StartAsync(int seed, FaultyEnsembleOptions? options = null)
    {
        options ??= new FaultyEnsembleOptions();
        if (options.Voters < 3)
            throw new ArgumentOutOfRangeException(nameof(options), options.Voters, "A faulty ensemble needs at least 3 voters, so that one member's fault leaves a quorum.");
        if (options.ConcurrentFaults < 1 || options.ConcurrentFaults >= options.Voters + options.Ensemble.Observers)
            throw new ArgumentOutOfRangeException(nameof(options), options.ConcurrentFaults, "ConcurrentFaults must be at least 1 and leave at least one member without a fault.");
        var ensemble = await InMemoryEnsemble.StartAsync(options.Voters, options.Ensemble).ConfigureAwait(false);
        await ensemble.WaitForLeaderAsync().ConfigureAwait(false);
        return new FaultyEnsemble(seed, options, ensemble);
    }

    /// <summary>
    /// A session on member <paramref name="member"/>, or on a running member the seed picks, recorded in
    /// <see cref="History"/>.
    /// </summary>
    /// <exception cref="ZkException">ConnectionLoss: the member stopped before the session was made (a fault came in
    /// between), as a client sees a server go away while it connects.</exception>
    public async ValueTask<IZooKeeper> ConnectAsync(int? member = null, ZkSessionOptions? options = null)
    {
        var running = Ensemble.Running;
        if (member is null && running.Count == 0)
            throw new ZkException(ZkErrorCode.ConnectionLoss, null, "No member is running now (every one has a fault).");
        int id;
        lock (_random)
            id = member ?? (int)running[_random.Next(running.Count)].Options.ServerId;
        IZooKeeper session;
        try
        {
            session = await Ensemble.ConnectAsync(id, options).ConfigureAwait(false);
        }
        catch (InvalidOperationException e) when (Ensemble.Running.All(p => (int)p.Options.ServerId != id))
        {
            throw new ZkException(ZkErrorCode.ConnectionLoss, null, $"Member {id} stopped before the session was made: {e.Message}", e);
        }

        return History.Record(session);
    }

    /// <summary>
    /// Runs <paramref name="work"/> while faults come and go for <paramref name="duration"/>, then cancels the token
    /// it was given, ends the last fault and waits for <paramref name="work"/> and for every member to serve again.
    /// </summary>
    public async Task RunAsync(Func<CancellationToken, Task> work, TimeSpan duration)
    {
        using var stop = new CancellationTokenSource(duration);
        _clock.Restart();
        var running = Task.Run(() => work(stop.Token));
        await Task.WhenAll(Enumerable.Range(0, _options.ConcurrentFaults).Select(_ => FaultLoopAsync(stop.Token))).ConfigureAwait(false);

        try
        {
            await running.ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // the work stopped when told to
        }

        await Ensemble.WaitForLeaderAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Once every member serves: each member's tree read through a session of its own (after a sync) must be the same,
    /// data and versions, /zookeeper aside. Null when they agree, else what differs (with the seed).
    /// </summary>
    public async Task<string?> CheckConvergedAsync(TimeSpan? timeout = null)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)((timeout ?? TimeSpan.FromSeconds(30)).TotalSeconds * Stopwatch.Frequency);
        string? difference = null;
        while (Stopwatch.GetTimestamp() < deadline)
        {
            var trees = new List<(int Id, string Tree)>();
            try
            {
                foreach (var peer in Ensemble.Running)
                {
                    await using var session = await peer.ConnectAsync().ConfigureAwait(false);
                    await session.SyncAsync("/").ConfigureAwait(false);
                    trees.Add(((int)peer.Options.ServerId, await DescribeAsync(session, "/").ConfigureAwait(false)));
                }

                difference = Difference(trees);
                if (difference is null)
                    return null;
            }
            catch (ZkException e) when (e.Code == ZkErrorCode.ConnectionLoss)
            {
                // A member that has not synced with the leader yet (a fault healed a moment ago) serves no session.
                difference = $"server {Ensemble.Running.ElementAtOrDefault(trees.Count)?.Options.ServerId} did not serve a session: {e.Message} (seed {Seed})";
            }

            await Task.Delay(100).ConfigureAwait(false); // a member may still be applying what the others have
        }

        return difference;
    }

    /// <summary>Null when every tree is the first member's, else the first znode where another member's differs.</summary>
    private string? Difference(List<(int Id, string Tree)> trees)
    {
        var (firstId, first) = trees[0];
        foreach (var (id, tree) in trees.Skip(1))
        {
            if (tree == first)
                continue;
            var mine = first.Split('\n');
            var theirs = tree.Split('\n');
            var at = 0;
            while (at < mine.Length && at < theirs.Length && mine[at] == theirs[at])
                at++;
            string Line(string[] lines) => at < lines.Length ? $"'{lines[at]}'" : "nothing more";
            return $"seed {Seed}: the trees of server {firstId} and server {id} differ (znode path, version, data): {Line(mine)} against {Line(theirs)}";
        }

        return null;
    }

    /// <summary>One fault after another until <paramref name="stop"/>; each ends before the loop draws the next.</summary>
    private async Task FaultLoopAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            var (member, apply, heal) = Draw();
            try
            {
                await apply().ConfigureAwait(false);
                await PauseAsync().ConfigureAwait(false);
                await heal().ConfigureAwait(false);
            }
            finally
            {
                lock (_random)
                    _faulted.Remove(member);
            }

            await PauseAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Stops every member.</summary>
    public async ValueTask DisposeAsync() => await Ensemble.DisposeAsync().ConfigureAwait(false);

    /// <summary>
    /// The next fault and how it ends, on a member no other fault holds; ids are drawn from all members, so a restarted
    /// one can fail again.
    /// </summary>
    private (int Member, Func<Task> Apply, Func<Task> Heal) Draw()
    {
        var kinds = Enum.GetValues<FaultKinds>().Where(k => k != FaultKinds.All && _options.Faults.HasFlag(k)).ToArray();
        int a, b;
        FaultKinds kind;
        lock (_random)
        {
            var ids = Ensemble.Ids;
            var free = ids.Where(i => !_faulted.Contains(i)).ToList();
            if (kinds.Length == 0 || free.Count == 0)
                return (-1, () => Task.CompletedTask, () => Task.CompletedTask);
            kind = kinds[_random.Next(kinds.Length)];
            a = free[_random.Next(free.Count)];
            b = ids.Where(i => i != a).ElementAt(_random.Next(ids.Count - 1));
            _faulted.Add(a);
        }

        (Func<Task> Apply, Func<Task> Heal) fault = kind switch
        {
            FaultKinds.Crash => (() => Logged($"crash {a}", () => Ensemble.CrashAsync(a)), () => Logged($"restart {a}", () => Ensemble.RestartAsync(a))),
            FaultKinds.Partition => (() => Logged($"partition {a}", () => Sync(() => Ensemble.Network.Partition([a]))),
                () => Logged($"heal {a}", () => Sync(() => Ensemble.Network.HealPartition([a])))),
            FaultKinds.OneWayBlock => (() => Logged($"block {a}->{b}", () => Sync(() => Ensemble.Network.Block(a, b))),
                () => Logged($"unblock {a}->{b}", () => Sync(() => Ensemble.Network.Unblock(a, b)))),
            _ => (() => Logged($"pause {a}", () => Sync(() => Ensemble.Network.Pause(a))), () => Logged($"resume {a}", () => Sync(() => Ensemble.Network.Resume(a)))),
        };
        return (a, fault.Apply, fault.Heal);
    }

    private async Task Logged(string what, Func<Task> action)
    {
        lock (_schedule)
            _schedule.Add(new FaultEvent(_clock.Elapsed, what));
        await action().ConfigureAwait(false);
    }

    private static Task Sync(Action action)
    {
        action();
        return Task.CompletedTask;
    }

    /// <summary>A drawn time, not cut short when the run ends: every fault lasts its time and every run ends healed.</summary>
    private Task PauseAsync()
    {
        double factor;
        lock (_random)
            factor = 0.5 + _random.NextDouble();
        return Task.Delay(_options.FaultInterval * factor);
    }

    private static async Task<string> DescribeAsync(IZooKeeper session, string path)
    {
        var text = new StringBuilder();
        var pending = new Stack<string>([path]);
        while (pending.TryPop(out var next))
        {
            if (next == "/zookeeper")
                continue;
            var data = await session.GetDataAsync(next).ConfigureAwait(false);
            text.Append(next).Append(' ').Append(data.Stat.Version).Append(' ').Append(Convert.ToHexString(data.Data.Span)).Append('\n');
            foreach (var child in (await session.GetChildrenAsync(next).ConfigureAwait(false)).OrderDescending(StringComparer.Ordinal))
                pending.Push(next == "/" ? "/" + child : next + "/" + child);
        }

        return text.ToString();
    }
}
