using System.Text;
using Zk.Embedded.Api;
using Zk.Embedded.Consensus;
using Zk.Embedded.Tree;
using Zk.Embedded.Txns;
using Zk.Embedded.Watches;
using Zk.Embedded.Tests.Replication;

namespace Zk.Embedded.Tests.Consensus.Harness;

/// <summary>
/// A simulated peer's real replicated state: every committed txn decoded with <see cref="TxnCodec"/> and applied with
/// <see cref="TxnApplier"/> to a <see cref="TreeState"/>, as the driver's TreeReplica does. The workload's nodes exist
/// from the start on every peer (the same genesis everywhere), so a run needs no set-up txns. Every conversion between
/// the core's <see cref="Zxid"/> and the tree's zxid lives in this file.
/// </summary>
internal sealed class SimTree
{
    public const int Registers = 3;
    public const int Queues = 2;
    public const string Ephemerals = "/e";

    private static readonly TreeState Genesis = BuildGenesis();

    private readonly List<WatchTrigger> _triggers = [];

    public TreeState State { get; private set; } = Genesis;

    /// <summary>The txn last applied, and the watch triggers it made.</summary>
    public Txn? LastTxn { get; private set; }
    public IReadOnlyList<WatchTrigger> LastTriggers => _triggers;

    /// <summary>The real server-side watches of this peer's client connections; every applied txn fires its triggers here.</summary>
    public WatchManager Watches { get; private set; } = new();

    public Zxid Zxid => State.Zxid;

    public static string Register(int i) => $"/r{i}";

    public static string Queue(int i) => $"/q{i}";

    /// <summary>The tree after <paramref name="txns"/> from genesis (a restart or a SNAP restore).</summary>
    public void Rebuild(IReadOnlyList<ConsensusTxn> txns)
    {
        State = Genesis;
        DropWatches();
        foreach (var txn in txns)
            Apply(txn);
    }

    public void Apply(ConsensusTxn txn)
    {
        Txn decoded;
        try
        {
            decoded = TxnCodec.Decode(txn.Data, txn.Zxid);
        }
        catch (Exception e) when (e is not ConsensusViolation)
        {
            throw new ConsensusViolation($"committed txn {txn.Zxid} does not decode ({e.Message}): a damaged record was applied");
        }
        _triggers.Clear();
        LastTxn = decoded;
        State = TxnApplier.Apply(State, decoded, _triggers);
        foreach (var trigger in _triggers)
            Watches.Trigger(trigger, decoded.Zxid);
    }

    /// <summary>Every connection to this peer ended (a restart, a role change, a resync): so did their watches.</summary>
    public void DropWatches() => Watches = new WatchManager();

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
