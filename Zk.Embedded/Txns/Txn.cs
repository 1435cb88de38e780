using Zk.Embedded.Api;
using Zk.Embedded.Tree;

namespace Zk.Embedded.Txns;

/// <summary>
/// A committed change, exactly as every peer applies it. Everything apply needs is inside: the zxid, the session,
/// the leader's clock reading, and resolved values (final path, new versions), so apply never reads a clock or
/// makes a choice (DESIGN invariant 1).
/// </summary>
/// <param name="Cxid">
/// the client's id of the request that made it (ZooKeeper's <c>TxnHeader.cxid</c>): with <paramref name="SessionId"/>
/// it finds the waiting caller on whichever peer publishes the txn. The wire client's xid; an in-process session's own
/// counter; 0 for the peer's own requests (expiry, container clean-up) and for createSession, as ZooKeeper submits them.
/// </param>
internal sealed record Txn(Zxid Zxid, SessionId SessionId, long Time, TxnOp Op, int Cxid = 0);

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

/// <summary>
/// What the log's codec needs of a txn to read it back as it was written: a string wherever it writes one (paths, ACL
/// schemes and ids) and no multi inside a multi. <c>TxnBuilder</c> validates every request field so this never finds
/// anything; the pipeline checks it anyway before a txn gets a zxid, because one undecodable txn in the log stops
/// every later start of the peer.
/// </summary>
internal static class TxnChecks
{
    /// <summary>Null when <paramref name="op"/> encodes and decodes back identically; else what is wrong.</summary>
    public static string? Unencodable(TxnOp op, bool nested = false) => op switch
    {
        CreateTxn c => c.Path is null ? "a create without a path" : UnencodableAcl(c.Acl),
        DeleteTxn { Path: null } or SetDataTxn { Path: null } or CheckTxn { Path: null } => $"a {op.GetType().Name} without a path",
        SetAclTxn a => a.Path is null ? "a setACL without a path" : UnencodableAcl(a.Acl),
        MultiTxn m => nested ? "a multi inside a multi" : UnencodableOps(m.Ops),
        null => "no op",
        _ => null,
    };

    private static string? UnencodableOps(TxnOp[]? ops)
    {
        if (ops is null)
        {
            return "a multi without ops";
        }

        foreach (var op in ops)
        {
            if (Unencodable(op, nested: true) is { } problem)
            {
                return problem;
            }
        }

        return null;
    }

    private static string? UnencodableAcl(AclList? acl)
    {
        if (acl is null)
        {
            return "no ACL";
        }

        foreach (var entry in acl.AsSpan())
        {
            if (entry?.Id?.Scheme is null || entry.Id.Identity is null)
            {
                return $"an ACL entry with a null scheme or id ({entry?.Id})";
            }
        }

        return null;
    }
}
