using Microsoft.Extensions.Logging.Abstractions;
using Zk.Embedded;
using Zk.Embedded.Api;
using Zk.Embedded.Consensus;
using Zk.Embedded.Ensemble;
using Zk.Embedded.Sessions;
using Zk.Embedded.Processing;
using Zk.Embedded.Tree;

namespace Zk.Testing.Simulation;

/// <summary>
/// What the code under test sees of a simulated ensemble (<see cref="DeterministicEnsemble.Run"/>): its members,
/// in-process sessions on them, the simulation's clock and a random source seeded with the run. Use it only from the
/// scenario's own code, on the thread the scenario runs on.
/// </summary>
public sealed class SimulatedEnsemble
{
    private readonly Simulation _sim;
    private readonly SimSynchronizationContext _queue;
    private readonly Dictionary<int, PeerCore> _cores = [];
    private readonly Dictionary<int, bool> _serving = [];

    internal SimulatedEnsemble(Simulation sim, SimSynchronizationContext queue, int seed)
    {
        (_sim, _queue) = (sim, queue);
        Random = new Random(seed ^ 0x5ce7a);
    }

    /// <summary>The simulation under the scenario (tests: which disks its peers run on).</summary>
    internal Simulation Simulation => _sim;

    /// <summary>For the scenario's own choices, seeded with the run.</summary>
    public Random Random { get; }

    /// <summary>The simulation's clock: give it to <c>Task.Delay</c> and to the code under test's timers.</summary>
    public TimeProvider Time => _sim.Clock;

    /// <summary>The members' ids.</summary>
    public IReadOnlyList<int> Members => [.. _sim.Peers.Select(p => p.Id)];

    /// <summary>The established leader that serves now, if any.</summary>
    public int? Leader => _sim.Peers.FirstOrDefault(p => p.Core is { State: ServerState.Leading, IsServing: true })?.Id;

    /// <summary>Steps so far (milliseconds of the simulation's clock).</summary>
    public long Now => _sim.Steps;

    /// <summary>A delay on the simulation's clock.</summary>
    public Task Delay(TimeSpan delay) => Task.Delay(delay, _sim.Clock);

    /// <summary>
    /// An in-process session on <paramref name="member"/> (its running incarnation), as <c>ZkPeer.ConnectAsync</c>
    /// opens one: a createSession through the member, or a re-attach when the options name a session (created on any
    /// member: this is how a session moves, through the member's GlobalSessions). Fails with ConnectionLoss while the
    /// member is down, has no leader or is behind the session's LastZxidSeen. The members' tickTime is 50 ms of the simulation's
    /// clock, so a session's timeout is negotiated into 100 ms to 1 s, as ZooKeeper bounds it by 2 and 20 ticks.
    /// </summary>
    public async Task<IZooKeeper> ConnectAsync(int member, ZkSessionOptions? options = null) =>
        await CoreOf(member).ConnectAsync(options ?? new ZkSessionOptions(), CancellationToken.None);

    /// <summary>Adds a line to the run's trace (it counts in the trace hash).</summary>
    public void Log(string line) => _sim.Note(line);

    private PeerCore CoreOf(int member) =>
        _cores.TryGetValue(member, out var core) ? core : throw new ArgumentOutOfRangeException(nameof(member), member, "no such member");

    /// <summary>A member's new incarnation: the peer a host process would start, with no sessions yet.</summary>
    internal void OnStarted(SimPeer peer)
    {
        var member = _sim.Workload.MemberOf(peer);
        // tickTime 50 ms of the simulation's clock: sessions of 100 ms to 1 s, about 3 to 30 core ticks.
        var options = new ZkPeerOptions { TickTime = TimeSpan.FromMilliseconds(50) };
        _cores[peer.Id] = new PeerCore(new SimPipeline(peer, member, peer.Incarnation), peer.Tree.Watches, peer.Tree.Sessions, _sim.Clock,
            NullLogger.Instance, options) { Dispatch = _queue.Dispatch, Ensemble = new SimEnsembleSessions(this, peer, member, peer.Incarnation) };
        _serving[peer.Id] = false;
    }

    /// <summary>The member's process dies: its sessions' handles hear Disconnected and fail from then on, and so do their linearizable reads.</summary>
    internal void OnCrashing(SimPeer peer)
    {
        FailReads(peer, "it stopped");
        _cores.GetValueOrDefault(peer.Id)?.Stopped();
    }

    /// <summary>As ZkPeer does: the member's sessions hear when it starts or stops serving clients.</summary>
    internal void OnRoleChanged(SimPeer peer, RoleChange change)
    {
        var serving = peer.Core is { IsServing: true };
        if (!serving)
            FailReads(peer, "it stopped serving");
        if (_serving.GetValueOrDefault(peer.Id) == serving || !_cores.TryGetValue(peer.Id, out var core))
            return;
        _serving[peer.Id] = serving;
        _sim.Note($"member {peer.Id} {(serving ? "serves" : "stops serving")} its {core.Sessions.Sessions.Count} sessions");
        core.ServingChanged(serving);
    }

    // ---- linearizable reads: the member's read index, as EnsembleMember.ReadIndexAsync waits for it ----

    private readonly List<PendingRead> _reads = [];

    /// <summary>Planted (<see cref="DeterministicEnsembleOptions.PlantedSkipReadIndex"/>): no read index at all.</summary>
    internal bool SkipReadIndex { get; init; }
    private long _lastReadId = 1L << 40;   // apart from the simulation's own clients' read indexes

    private sealed record PendingRead(SimPeer Peer, int Incarnation, long Id, TaskCompletionSource Done)
    {
        public Zk.Embedded.Api.Zxid? Index { get; set; }
    }

    /// <summary>
    /// Asks the member's core for a read index (ConsensusDriver.ReadIndexAsync); completes once the core answered and
    /// the member's tree has published up to it, fails with ConnectionLoss when the member cannot confirm its leader,
    /// stops serving or crashes first. Completed on the run's queue, never inside a simulation step.
    /// </summary>
    internal Task ReadIndex(SimPeer peer, int incarnation)
    {
        if (!peer.Up || peer.Incarnation != incarnation || peer.Core is not { IsServing: true } core)
            return Task.FromException(ReadFailed(peer, "it does not serve"));
        if (SkipReadIndex)
            return Task.CompletedTask;
        var read = new PendingRead(peer, incarnation, ++_lastReadId, new TaskCompletionSource());
        _reads.Add(read);
        _sim.Note($"read index {read.Id} asked of {peer.Id}");
        core.ReadIndex(read.Id);
        return read.Done.Task;
    }

    /// <summary>The core answered read indexes (after applying the batch's commits).</summary>
    internal void OnReadsAnswered(SimPeer peer, List<ReadIndexResult> answers)
    {
        foreach (var answer in answers)
        {
            if (_reads.Find(r => r.Peer == peer && r.Id == answer.Id) is not { } read)
                continue;   // the simulation's own clients', or one already failed
            if (answer.Index is { } index)
                read.Index = index;
            else
                Finish(read, ReadFailed(peer, "it cannot confirm its leader with a quorum"));
        }
    }

    /// <summary>The member's tree published what it could: reads whose index it reached complete.</summary>
    internal void OnDrained(SimPeer peer)
    {
        foreach (var read in _reads.Where(r => r.Peer == peer && r.Index is { } index && peer.Tree.Zxid >= index).ToList())
            Finish(read, null);
    }

    private void FailReads(SimPeer peer, string why)
    {
        foreach (var read in _reads.Where(r => r.Peer == peer).ToList())
            Finish(read, ReadFailed(peer, why));
    }

    private void Finish(PendingRead read, Exception? failure)
    {
        _reads.Remove(read);
        _sim.Note($"read index {read.Id} on {read.Peer.Id} {(failure is null ? $"at {read.Index}" : "failed")}");
        _queue.Dispatch(() =>
        {
            if (failure is null)
                read.Done.TrySetResult();
            else
                read.Done.TrySetException(failure);
        });
    }

    private static ZkException ReadFailed(SimPeer peer, string why) => ConsensusDriver.LinearizableReadFailed(peer.Id, why);
}

/// <summary>
/// A simulated member's incarnation as its in-process sessions reach the ensemble: reattaching a session created on
/// any member through the member's real <c>GlobalSessions</c>, and linearizable reads through its core's read index.
/// </summary>
internal sealed class SimEnsembleSessions(SimulatedEnsemble ensemble, SimPeer peer, SimMember member, int incarnation) : IEnsembleSessions
{
    public ServerSession? Reattach(SessionId sessionId, ReadOnlySpan<byte> password, Zk.Embedded.Api.Zxid lastZxidSeen)
    {
        if (!peer.Up || peer.Incarnation != incarnation)
            throw new ZkException(ZkErrorCode.ConnectionLoss, null, $"Server {peer.Id} stopped.");
        return member.Global.Reattach(sessionId, password, lastZxidSeen);
    }

    public ValueTask ReadIndexAsync(CancellationToken cancellationToken) => new(ensemble.ReadIndex(peer, incarnation));

    /// <summary>
    /// No wait here: the claim's answer completes inside a simulation step, and a scenario's continuations run on its
    /// run's queue only. The workload's clients hold their reattach as the wire and in-process paths do (Workload.Step).
    /// </summary>
    public ValueTask ClaimAnsweredAsync(SessionId sessionId, CancellationToken cancellationToken) => default;
}

/// <summary>A simulated member's incarnation as its in-process sessions see it: the pipeline of <c>PeerCore</c>.</summary>
internal sealed class SimPipeline(SimPeer peer, SimMember member, int incarnation) : IPeerPipeline
{
    private static readonly Task<Exception> Never = new TaskCompletionSource<Exception>().Task;

    private bool Alive => peer.Up && peer.Incarnation == incarnation;

    public TreeState State => peer.Tree.State;

    public TreeState FiringState => peer.Tree.FiringState;

    public string? NotServing => !Alive ? $"server {peer.Id} stopped" : peer.Core!.IsServing ? null : $"server {peer.Id} is {peer.Core.State} and has no established leader";

    public Task<Exception> Faulted => Never;

    public ValueTask SubmitAsync(PendingWrite write, CancellationToken cancellationToken = default) =>
        Alive ? member.Forwarder.SubmitAsync(write, cancellationToken)
            : ValueTask.FromException(new ZkException(ZkErrorCode.ConnectionLoss, write.Request.ErrorPath, $"Server {peer.Id} stopped."));

    public void Post(PendingWrite write)
    {
        if (Alive)
            member.Writes?.Post(write);
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

/// <summary>
/// The one queue of a scenario's run: continuations of the code under test (its awaits capture this context) and the
/// sessions' deliveries (<c>PeerCore.Dispatch</c>), run in the order posted on the simulation's thread. The code under
/// test runs with this context current; the library's work and the simulation's steps run with none, because the
/// runtime never inlines a <c>ConfigureAwait(false)</c> continuation where a custom context is current (it queues it
/// to the thread pool instead, which would leave the simulation's thread).
/// </summary>
internal sealed class SimSynchronizationContext : SynchronizationContext
{
    private readonly Queue<(SendOrPostCallback Callback, object? State, bool UnderTest)> _queue = new();
    private readonly int _thread = Environment.CurrentManagedThreadId;
    private string? _strayPost;

    /// <summary>A continuation of the code under test: it runs with this context current.</summary>
    public override void Post(SendOrPostCallback d, object? state) => Enqueue(d, state, underTest: true);

    public override void Send(SendOrPostCallback d, object? state) => Post(d, state);

    public override SynchronizationContext CreateCopy() => this;

    /// <summary>The library's own work (a session's deliveries): it runs with no context current.</summary>
    public void Dispatch(Action work) => Enqueue(static w => ((Action)w!)(), work, underTest: false);

    /// <summary>Runs <paramref name="code"/> of the test with this context current (its awaits come back here).</summary>
    public T RunUnderTest<T>(Func<T> code)
    {
        SetSynchronizationContext(this);
        try
        {
            return code();
        }
        finally
        {
            SetSynchronizationContext(null);
        }
    }

    /// <summary>Runs everything queued, including what that queues, until nothing is left.</summary>
    public void RunPending()
    {
        while (true)
        {
            (SendOrPostCallback Callback, object? State, bool UnderTest) item;
            lock (_queue)
            {
                if (_strayPost is { } stray)
                    throw new ConsensusViolation(stray);
                if (!_queue.TryDequeue(out item))
                    return;
            }

            if (item.UnderTest)
                RunUnderTest(() => { item.Callback(item.State); return 0; });
            else
                item.Callback(item.State);
        }
    }

    private void Enqueue(SendOrPostCallback d, object? state, bool underTest)
    {
        lock (_queue)
        {
            if (Environment.CurrentManagedThreadId != _thread)
                _strayPost ??= $"work was posted from thread {Environment.CurrentManagedThreadId}, not the simulation's: the code under test left it (Task.Run, a real timer, a blocking wait)\n{Environment.StackTrace}";
            _queue.Enqueue((d, state, underTest));
        }
    }
}
