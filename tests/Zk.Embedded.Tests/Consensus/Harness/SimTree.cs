using System.Text;
using Zk.Embedded.Api;
using Zk.Embedded.Consensus;
using Zk.Embedded.Tree;
using Zk.Embedded.Txns;
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

    public TreeState State { get; private set; } = Genesis;

    public Zxid Zxid => State.Zxid;

    public static string Register(int i) => $"/r{i}";

    public static string Queue(int i) => $"/q{i}";

    /// <summary>The tree after <paramref name="txns"/> from genesis (a restart or a SNAP restore).</summary>
    public void Rebuild(IReadOnlyList<ConsensusTxn> txns)
    {
        State = Genesis;
        foreach (var txn in txns)
            Apply(txn);
    }

    public void Apply(ConsensusTxn txn) => State = TxnApplier.Apply(State, TxnCodec.Decode(txn.Data, txn.Zxid), null);

    public static TreeState Apply(TreeState state, Txn txn) => TxnApplier.Apply(state, txn, null);

    public static Txn Make(Zxid zxid, long session, TxnOp op) => new(zxid, new SessionId(session), Time: zxid.Value, op);

    public static byte[] Encode(Txn txn) => TxnCodec.Encode(txn);

    /// <summary>The node's (version, data), or null when it does not exist.</summary>
    public static (int Version, string Data)? Read(TreeState state, string path) =>
        state.Find(path) is { } node ? (node.Version, Encoding.UTF8.GetString(node.Data ?? [])) : null;

    public static SetDataTxn SetData(string path, string data, int newVersion) => new(path, Encoding.UTF8.GetBytes(data), newVersion);

    /// <summary>A sequential (or ephemeral, when <paramref name="owner"/> is a session) create as PrepRequestProcessor resolves it.</summary>
    public static CreateTxn Create(TreeState state, string parent, string prefix, bool sequential, long owner, string data)
    {
        var count = state.Find(parent)!.CreateCount;
        var name = sequential ? prefix + PathRules.SequenceSuffix(count) : prefix;
        return new CreateTxn(PathRules.Join(parent, name), Encoding.UTF8.GetBytes(data), AclList.Open, owner, count + 1);
    }

    public static bool Exists(TreeState state, string path) => state.Find(path) is not null;

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
