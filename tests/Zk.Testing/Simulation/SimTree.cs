using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Zk.Embedded.Api;
using Zk.Embedded.Consensus;
using Zk.Embedded.Ensemble;
using Zk.Embedded.Processing;
using Zk.Embedded.Sessions;
using Zk.Embedded.Tree;
using Zk.Embedded.Txns;
using Zk.Embedded.Watches;

namespace Zk.Testing.Simulation;

/// <summary>
/// A simulated peer's real replicated state: the real <see cref="TreeReplica"/> a member's consensus driver feeds,
/// stepped on the simulation's thread. Following, every committed txn is decoded with <see cref="TxnCodec"/> and
/// published by its real follower <see cref="Publisher"/> (applied to the tree, its watches fired through the real
/// <see cref="WatchManager"/>, its session ended, the client request waiting for it answered by (SessionId, Cxid) in
/// its session's order); as an established leader its real pipeline (<see cref="RequestProcessor"/>: the proposer,
/// the commit stage, the leader's publisher) takes the writes and publishes them once the core commits them. The
/// checker's replay (<c>publishes: false</c>) applies with <see cref="TxnApplier"/> alone and keeps each txn's
/// triggers. The workload's nodes exist from the start on every peer (the same genesis everywhere), so a run needs no
/// set-up txns. Every conversion between the core's <see cref="Zxid"/> and the tree's zxid lives in this file.
/// </summary>
internal sealed class SimTree(bool publishes = false)
{
    public const int Registers = 3;
    public const int Queues = 2;
    public const string Ephemerals = "/e";

    private static readonly TreeState Genesis = BuildGenesis();

    private readonly List<WatchTrigger> _triggers = [];
    private TreeState _state = Genesis;   // the replay's tree, or the one this incarnation's replica starts from
    private TreeReplica? _replica;

    public TreeState State => _replica?.State ?? _state;

    /// <summary>The state whose watches have fired (the publisher's, at or ahead of <see cref="State"/>).</summary>
    public TreeState FiringState => _replica?.FiringState ?? _state;

    /// <summary>
    /// As a real member's tree for in-process sessions: a role change or a SNAP fails the requests waiting here but
    /// keeps the watches, which the sessions themselves set again (false: every client connection ends with its
    /// watches, as the workload's wire-like clients have it).
    /// </summary>
    public bool KeepsWatches { get; init; }

    /// <summary>The txn last applied, and (replay only) the watch triggers it made.</summary>
    public Txn? LastTxn { get; private set; }
    public IReadOnlyList<WatchTrigger> LastTriggers => _triggers;

    /// <summary>The real server-side watches of this peer's client connections; every applied txn fires its triggers here.</summary>
    public WatchManager Watches { get; private set; } = new();

    /// <summary>
    /// The sessions of this peer's incarnation (its connections' and, as leader, the tree's: <see cref="SimMember"/>),
    /// which the publisher ends (their watches go) when a closeSession commits. Set before the incarnation applies anything.
    /// </summary>
    public SessionTracker Sessions { get; set; } = new(TimeProvider.System, 1, SessionTracker.EnsembleSecret);

    /// <summary>What the leader's proposer builds txns with, and its clock (set with <see cref="Sessions"/>).</summary>
    public TxnBuilder Builder { get; set; } = new(new AclCache(), new PeerLimits(1 << 20, false, null));
    public TimeProvider Clock { get; set; } = TimeProvider.System;

    /// <summary>This incarnation's member tree (made at its first use, once <see cref="Sessions"/> is set).</summary>
    public TreeReplica Replica => _replica ??= publishes
        ? new TreeReplica(_state, Builder, Watches, Sessions, Clock, NullLogger.Instance) { Stepped = true }
        : throw new InvalidOperationException("the replay has no member tree");

    /// <summary>Where this peer's clients' forwarded requests wait for their committed txn or their answer.</summary>
    public Publisher Follower => Replica.Follower;

    /// <summary>The leader's pipeline while this peer leads an established epoch; null otherwise.</summary>
    public IWriteSubmitter? Writes => _replica?.Writes;

    public Zxid Zxid => State.Zxid;

    public static string Register(int i) => $"/r{i}";

    public static string Queue(int i) => $"/q{i}";

    /// <summary>A new process: the tree after <paramref name="txns"/> from genesis, a new watch manager, no pipeline.</summary>
    public void Restart(IReadOnlyList<ConsensusTxn> txns)
    {
        _replica = null;   // the old process's: everything waiting in it died with its clients
        Watches = new WatchManager();
        _state = Replay(txns);
    }

    /// <summary>
    /// The process dies: what waits in its publishers and its pipeline fails with ConnectionLoss, as a stopping
    /// member's does (TreeReplica.StopAsync), for the callers that outlive it (a scenario's sessions on it).
    /// </summary>
    public void Crash()
    {
        if (_replica is { } replica)
            CompletedNow(replica.StopAsync());
        _replica = null;
    }

    /// <summary>Work of the stepped member tree, which never waits: it is done when the call returns.</summary>
    private static void CompletedNow(ValueTask work)
    {
        if (!work.IsCompletedSuccessfully)
            throw new InvalidOperationException("a stepped member tree did not finish its work at once");
        work.GetAwaiter().GetResult();
    }

    /// <summary>A SNAP: following resumes from the tree after <paramref name="txns"/>, as the driver restores it; every connection ended.</summary>
    public void Restore(IReadOnlyList<ConsensusTxn> txns)
    {
        DropWatches();
        Replica.Restore(Replay(txns));
    }

    public void Apply(ConsensusTxn txn)
    {
        if (!publishes)
        {
            var decoded = Decode(txn);
            LastTxn = decoded;
            _triggers.Clear();
            _state = TxnApplier.Apply(_state, decoded, _triggers);
            foreach (var trigger in _triggers)
                Watches.Trigger(trigger, decoded.Zxid);
            return;
        }
        try
        {
            Replica.Apply(txn);
        }
        catch (TxnInvariantException e)
        {
            throw new ConsensusViolation($"the publisher refused committed txn {txn.Zxid}: {e.Message}");
        }
        catch (Exception e) when (e is not ConsensusViolation)
        {
            throw new ConsensusViolation($"committed txn {txn.Zxid} does not decode ({e.Message}): a damaged record was applied");
        }
    }

    /// <summary>
    /// A leader's pipeline does what it can now: proposes what was queued, publishes what committed. A pipeline that
    /// failed for another reason than its term ending is a violation (a real member would stop serving writes).
    /// </summary>
    public void RunPipeline()
    {
        if (_replica?.Writes is not RequestProcessor pipeline)
            return;
        _replica.RunPipeline();
        if (pipeline.Fault is { } fault && fault is not ZkException { Code: ZkErrorCode.ConnectionLoss })
            throw new ConsensusViolation($"the leader's pipeline failed: {fault.GetType().Name}: {fault.Message}");
    }

    /// <summary>
    /// Every connection to this peer ended (a restart, a role change, a resync): so did their watches, unless the
    /// sessions keep theirs (<see cref="KeepsWatches"/>). What waits in the publishers is the replica's to fail, as
    /// the real one does when the member stops following or leading.
    /// </summary>
    public void DropWatches()
    {
        if (!KeepsWatches)
            Watches.RemoveAll();
    }

    private static TreeState Replay(IReadOnlyList<ConsensusTxn> txns)
    {
        var state = Genesis;
        foreach (var txn in txns)
            state = TxnApplier.Apply(state, Decode(txn), null);
        return state;
    }

    private static Txn Decode(ConsensusTxn txn)
    {
        try
        {
            return TxnCodec.Decode(txn.Data, txn.Zxid);
        }
        catch (Exception e) when (e is not ConsensusViolation)
        {
            throw new ConsensusViolation($"committed txn {txn.Zxid} does not decode ({e.Message}): a damaged record was applied");
        }
    }

    /// <summary>The node's (version, data), or null when it does not exist.</summary>
    public static (int Version, string Data)? Read(TreeState state, string path) =>
        state.Find(path) is { } node ? (node.Version, Encoding.UTF8.GetString(node.Data ?? [])) : null;

    /// <summary>A create as PrepRequestProcessor resolves it (genesis, and the name the next sequential create of a parent takes).</summary>
    public static CreateTxn Create(TreeState state, string parent, string prefix, bool sequential, long owner, string data)
    {
        var count = state.Find(parent)!.CreateCount;
        var name = sequential ? prefix + PathRules.SequenceSuffix(count) : prefix;
        return new CreateTxn(PathRules.Join(parent, name), Encoding.UTF8.GetBytes(data), AclList.Open, owner, count + 1);
    }

    public static bool Exists(TreeState state, string path) => state.Find(path) is not null;

    /// <summary>The session an ephemeral of the workload belongs to: its name is c{client}-{session:x}-{op}.</summary>
    public static long OwnerOfEphemeral(string name) => Convert.ToInt64(name.Split('-')[1], 16);

    /// <summary>The children's names, sorted (ordinal).</summary>
    public static string[] Children(TreeState state, string path)
    {
        var names = state.Find(path)!.Children.Names().ToArray();
        Array.Sort(names, StringComparer.Ordinal);
        return names;
    }

    /// <summary>The session's ephemerals still in the tree (none once its close is applied).</summary>
    public static int EphemeralsOf(TreeState state, long session) =>
        state.Ephemerals.TryGetValue(new SessionId(session), out var paths) ? paths.Count : 0;

    public static bool HasSession(TreeState state, long session) => state.Sessions.ContainsKey(new SessionId(session));

    public string Digest() => TreeDigest.Of(State);

    private static TreeState BuildGenesis()
    {
        var state = TreeState.CreateInitial();
        var paths = new List<string> { Ephemerals };
        for (var i = 0; i < Registers; i++)
            paths.Add(Register(i));
        for (var i = 0; i < Queues; i++)
            paths.Add(Queue(i));
        foreach (var path in paths)
        {
            var create = Create(state, "/", path[1..], sequential: false, owner: 0, data: "");
            state = TxnApplier.Apply(state, new Txn(default, default, 0, create), null);
        }
        return state;
    }
}
