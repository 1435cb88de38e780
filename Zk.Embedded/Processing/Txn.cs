using Zk.Embedded.Tree;

namespace Zk.Embedded.Processing;

/// <summary>
/// A committed change, exactly as every peer applies it. Everything apply needs is inside: the zxid, the session,
/// the leader's clock reading, and resolved values (final path, new versions), so apply never reads a clock or
/// makes a choice (DESIGN invariant 1).
/// </summary>
internal sealed record Txn(long Zxid, long SessionId, long Time, TxnOp Op);

/// <summary>What a txn does. The kinds are ZooKeeper's txn types; their shape is ours.</summary>
internal abstract record TxnOp;

/// <summary>Creates a node; <paramref name="ParentCreateCount"/> is the parent's create count after it.</summary>
internal sealed record CreateTxn(string Path, byte[]? Data, AclList Acl, long EphemeralOwner, int ParentCreateCount) : TxnOp;

internal sealed record DeleteTxn(string Path) : TxnOp;

/// <summary>Sets data; <paramref name="Version"/> is the new data version.</summary>
internal sealed record SetDataTxn(string Path, byte[]? Data, int Version) : TxnOp;

/// <summary>Sets the ACL; <paramref name="Aversion"/> is the new ACL version.</summary>
internal sealed record SetAclTxn(string Path, AclList Acl, int Aversion) : TxnOp;

/// <summary>A version check inside a multi: no effect, kept so results line up with ops.</summary>
internal sealed record CheckTxn(string Path) : TxnOp;

internal sealed record CreateSessionTxn(int TimeoutMillis) : TxnOp;

/// <summary>Ends the txn's session and deletes its ephemerals, in ordinal path order so every peer does the same.</summary>
internal sealed record CloseSessionTxn : TxnOp
{
    public static readonly CloseSessionTxn Instance = new();
}

/// <summary>All of <paramref name="Ops"/>, atomically.</summary>
internal sealed record MultiTxn(TxnOp[] Ops) : TxnOp;
