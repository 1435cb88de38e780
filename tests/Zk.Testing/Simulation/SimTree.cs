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
/// A simulated peer's real replicated state: every committed txn decoded with <see cref="TxnCodec"/> and published by
/// the real <see cref="Publisher"/> (a follower's, as the driver's TreeReplica has it): applied to the tree, its watches
/// fired through the real <see cref="WatchManager"/>, its session ended, and the client request waiting for it answered
/// by (SessionId, Cxid) in its session's order. The checker's replay (<c>publishes: false</c>) applies with
/// <see cref="TxnApplier"/> alone and keeps each txn's triggers. The workload's nodes exist from the start on every peer
/// (the same genesis everywhere), so a run needs no set-up txns. Every conversion between the core's <see cref="Zxid"/>
/// and the tree's zxid lives in this file.
/// </summary>
internal sealed class SimTree(bool publishes = false)
{
    public const int Registers = 3;
    public const int Queues = 2;
    public const string Ephemerals = "/e";

    private static readonly TreeState Genesis = BuildGenesis();

    private readonly List<WatchTrigger> _triggers = [];
    private TreeState _state = Genesis;
    private ReplicatedCommit _commit = null!;   // the publisher's, made with it
    private Publisher? _publisher;

    public TreeState State => _publisher?.State ?? _state;

    /// <summary>The state whose watches have fired (the publisher's, at or ahead of <see cref="State"/>).</summary>
    public TreeState FiringState => _publisher?.FiringState ?? _state;

    /// <summary>
    /// As a real member's tree (TreeReplica) for in-process sessions: a role change or a SNAP fails the requests waiting
    /// here but keeps the watch manager and the watches, which the sessions themselves set again (false: every client
    /// connection ends with its watches, as the workload's wire-like clients have it).
    /// </summary>
    public bool KeepsWatches { get; init; }

    /// <summary>The txn last applied, and (replay only) the watch triggers it made.</summary>
    public Txn? LastTxn { get; private set; }
    public IReadOnlyList<WatchTrigger> LastTriggers => _triggers;

    /// <summary>The real server-side watches of this peer's client connections; every applied txn fires its triggers here.</summary>
    public WatchManager Watches { get; private set; } = new();

    /// <summary>
    /// The sessions of this peer's incarnation (its connections' and, as leader, the tree's: <see cref="SimMember"/>),
    /// which the publisher ends (their watches go) when a closeSession commits.
    /// </summary>
    public SessionTracker Sessions { get; set; } = new(TimeProvider.System, 1, SessionTracker.EnsembleSecret);

    /// <summary>Where this peer's clients' requests wait for their committed txn or their answer (a peer's tree only).</summary>
    public Publisher Publisher => _publisher ??= publishes ? NewPublisher() : throw new InvalidOperationException("the replay publishes nothing");

    public Zxid Zxid => State.Zxid;

    public static string Register(int i) => $"/r{i}";

    public static string Queue(int i) => $"/q{i}";

    /// <summary>The tree after <paramref name="txns"/> from genesis (a restart or a SNAP restore); every connection ended.</summary>
    public void Rebuild(IReadOnlyList<ConsensusTxn> txns)
    {
        var state = Genesis;
        foreach (var txn in txns)
            state = TxnApplier.Apply(state, Decode(txn), null);
        EndConnections();
        _state = state;
    }

    public void Apply(ConsensusTxn txn)
    {
        var decoded = Decode(txn);
        LastTxn = decoded;
        if (!publishes)
        {
            _triggers.Clear();
            _state = TxnApplier.Apply(_state, decoded, _triggers);
            foreach (var trigger in _triggers)
                Watches.Trigger(trigger, decoded.Zxid);
            return;
        }
        var publisher = Publisher;
        _commit.Advance(txn.Zxid);
        try
        {
            publisher.Publish(decoded);
        }
        catch (TxnInvariantException e)
        {
            throw new ConsensusViolation($"the publisher refused committed txn {txn.Zxid}: {e.Message}");
        }
    }

    /// <summary>
    /// Every connection to this peer ended (a restart, a role change, a resync): so did their watches, and every
    /// request still waiting fails with ConnectionLoss, as TreeReplica's follower publisher does when the member stops
    /// following.
    /// </summary>
    public void DropWatches()
    {
        var state = State;
        EndConnections();
        _state = state;
    }

    /// <summary>A new process: a new watch manager (the old one's sessions died with the old process); <see cref="Rebuild"/> ends the connections.</summary>
    public void NewProcess() => Watches = new WatchManager();

    private void EndConnections()
    {
        _publisher?.FailWaiting();
        _publisher = null;
        if (KeepsWatches)
            return;
        // Each session object (shared by the connections that reattach it) keeps a record of its watched paths: clear
        // it through the manager that holds them, or a later connection's watch on such a path would not register.
        foreach (var session in Sessions.Sessions)
            Watches.RemoveSession(session);
        Watches = new WatchManager();
    }

    private Publisher NewPublisher() => new(_state, Watches, Sessions, _commit = new ReplicatedCommit(null, _state.Zxid), NullLogger.Instance);

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
