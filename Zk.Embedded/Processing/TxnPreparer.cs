using Microsoft.Extensions.Logging;
using Zk.Embedded.Api;
using Zk.Embedded.Tree;

using Zk.Embedded.Txns;

namespace Zk.Embedded.Processing;

/// <summary>One prepared request: its txn (if it changes anything), where its watch triggers sit in the batch, its reply.</summary>
internal readonly record struct Step(PendingWrite Write, Txn? Txn, int FirstTrigger, int TriggerCount, Reply Reply);

/// <summary>
/// The preparing half of the pipeline (ZooKeeper's PrepRequestProcessor): turns each request into a txn with the next
/// zxid against the speculative state (the state after every txn prepared so far), on the pipeline's one thread.
/// </summary>
internal sealed class TxnPreparer(TreeState initial, TxnBuilder builder, TimeProvider clock, ILogger logger)
{
    private TreeState _speculative = initial;
    private long _lastZxid = initial.Zxid;

    /// <summary>The zxid of the last txn prepared.</summary>
    public long LastZxid => _lastZxid;

    /// <summary>
    /// Prepares one request. An exception here fails that request alone with MarshallingError, as ZooKeeper's
    /// <c>PrepRequestProcessor.pRequest</c> catch-all does, and the pipeline goes on: nothing of the request has been
    /// committed (see <see cref="PrepareTxn"/>), so the next request sees the state as if it had never come.
    /// </summary>
    public Step Prepare(PendingWrite write, List<WatchTrigger> triggers, List<Txn> txns)
    {
        var firstTrigger = triggers.Count;
        try
        {
            return PrepareTxn(write, triggers, txns);
        }
        catch (Exception e)
        {
            triggers.RemoveRange(firstTrigger, triggers.Count - firstTrigger);
            Log.RequestFailed(logger, e, write.Request.GetType().Name, write.Session.SessionId);
            var state = _speculative;
            return new Step(write, null, 0, 0, new Reply(ZkErrorCode.MarshallingError, write.Request.ErrorPath, null, state.Zxid, state));
        }
    }

    /// <summary>
    /// Builds the txn and its reply against a local copy of the speculative state, and commits (zxid, txn, state) only
    /// once all of it is done: a throw anywhere before leaves no zxid taken, no txn to log and no half-applied state.
    /// </summary>
    private Step PrepareTxn(PendingWrite write, List<WatchTrigger> triggers, List<Txn> txns)
    {
        var state = _speculative;
        var time = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var zxid = _lastZxid + 1;
        var prepared = builder.Prepare(state, write.Session, write.AuthIds ?? write.Session.AuthIds, write.Request, zxid, time);
        if (prepared.Error != ZkErrorCode.Ok)
        {
            return new Step(write, null, 0, 0, new Reply(prepared.Error, write.Request.ErrorPath, prepared.MultiResults, state.Zxid, state));
        }

        if (prepared.Op is null)
        {
            var value = write.Request is SyncRequest sync ? sync.Path : (object?)prepared.MultiResults;
            return new Step(write, null, 0, 0, new Reply(ZkErrorCode.Ok, null, value, state.Zxid, state));
        }

        if (TxnChecks.Unencodable(prepared.Op) is { } problem)
        {
            // A txn the log could not decode would stop every later start: a builder bug, never logged.
            throw new InvalidOperationException($"The {write.Request.GetType().Name} built a txn the log cannot hold: {problem}.");
        }

        var txn = new Txn(zxid, write.Session.SessionId, time, prepared.Op, write.Cxid);
        var firstTrigger = triggers.Count;
        var next = TxnApplier.Apply(state, txn, triggers);
        var result = prepared.MultiResults ?? ResultOf(prepared.Op, next);
        var step = new Step(write, txn, firstTrigger, triggers.Count - firstTrigger, new Reply(ZkErrorCode.Ok, null, result, zxid, next));
        _lastZxid = zxid;
        _speculative = next;
        txns.Add(txn);
        return step;
    }

    private static object? ResultOf(TxnOp op, TreeState state) => op switch
    {
        CreateTxn create => new CreateResult(create.Path, state.Find(create.Path)!.ToStat()),
        SetDataTxn set => state.Find(set.Path)!.ToStat(),
        SetAclTxn setAcl => state.Find(setAcl.Path)!.ToStat(),
        _ => null,
    };
}
