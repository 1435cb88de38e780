using Zk.Embedded.Api;
using Zk.Embedded.Tree;
using Zk.Embedded.Txns;

namespace Zk.Embedded.Processing;

/// <summary>
/// The reply value of a committed txn, built from the txn and the states around it: what a publisher answers when it
/// did not prepare the txn itself (a follower answering its own session's forwarded write).
/// </summary>
internal static class TxnResults
{
    /// <summary>The value for a single op, read from <paramref name="after"/>, the state right after it.</summary>
    public static object? Of(TxnOp op, TreeState after) => op switch
    {
        CreateTxn create => new CreateResult(create.Path, after.Find(create.Path)!.ToStat()),
        SetDataTxn set => after.Find(set.Path)!.ToStat(),
        SetAclTxn setAcl => after.Find(setAcl.Path)!.ToStat(),
        _ => null,
    };

    /// <summary>
    /// The value for <paramref name="txn"/> applied to <paramref name="before"/>: for a multi, each op's result shows
    /// the state right after that op, as the proposer's <c>TxnBuilder</c> builds them (so the ops are applied again).
    /// </summary>
    public static object? Of(Txn txn, TreeState before, TreeState after)
    {
        if (txn.Op is not MultiTxn multi)
        {
            return Of(txn.Op, after);
        }

        var results = new OpResult[multi.Ops.Length];
        var state = before;
        for (var i = 0; i < results.Length; i++)
        {
            var op = multi.Ops[i];
            state = TxnApplier.Apply(state, txn with { Op = op }, null);
            results[i] = OfMultiOp(op, state);
        }

        return results;
    }

    /// <summary>The result of one op of a multi, read from <paramref name="after"/>, the state right after that op.</summary>
    public static OpResult OfMultiOp(TxnOp op, TreeState after) => op switch
    {
        CreateTxn c => new CreateResult(c.Path, after.Find(c.Path)!.ToStat()),
        DeleteTxn => DeleteResult.Instance,
        SetDataTxn s => new SetDataResult(after.Find(s.Path)!.ToStat()),
        _ => CheckResult.Instance,
    };
}
