using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Zk.Embedded.Api;
using Zk.Embedded.Tree;
using Zk.Embedded.Txns;

namespace Zk.Embedded.Processing;

/// <summary>
/// One prepared request: its txn (if it changes anything), where its watch triggers sit in the batch, its reply.
/// <see cref="Reply"/>'s state is the speculative state right after it, which the publisher may reuse for the txn
/// of the same zxid instead of applying the txn again.
/// </summary>
internal readonly record struct Step(PendingWrite Write, Txn? Txn, int FirstTrigger, int TriggerCount, Reply Reply);

/// <summary>One batch on its way from the proposer through the commit stage to the publisher; reused.</summary>
internal sealed class ProposedBatch
{
    public List<PendingWrite> Writes { get; } = new(64);

    public List<Step> Steps { get; } = new(64);

    public List<Txn> Txns { get; } = new(64);

    public List<WatchTrigger> Triggers { get; } = new(128);

    /// <summary>Set once the publisher holds the batch's requests (they are its to answer from then on).</summary>
    public bool Registered { get; set; }

    public void Clear()
    {
        Registered = false;
        Writes.Clear();
        Steps.Clear();
        Txns.Clear();
        Triggers.Clear();
    }
}

/// <summary>
/// The first stage of the pipeline (ZooKeeper's PrepRequestProcessor; the leader's job in an ensemble): turns each
/// request into a txn with the next zxid of the current epoch against the speculative state (the state after every txn
/// proposed so far), on the pipeline's one thread. <paramref name="proposeAfter"/> is the zxid its first txn follows:
/// standalone the state's own; an ensemble leader's (epoch, 0), so its txns carry the epoch it established.
/// </summary>
internal sealed class Proposer(TreeState initial, TxnBuilder builder, TimeProvider clock, ILogger logger, Zxid? proposeAfter = null)
{
    private TreeState _speculative = initial;
    private Zxid _last = proposeAfter ?? initial.Zxid;

    /// <summary>The zxid of the last txn proposed.</summary>
    public Zxid LastZxid => _last;

    /// <summary>Takes what is queued (up to <paramref name="max"/>) and prepares it against the speculative state.</summary>
    public void Fill(ProposedBatch batch, ChannelReader<PendingWrite> reader, int max)
    {
        while (batch.Writes.Count < max && reader.TryRead(out var write))
        {
            batch.Writes.Add(write);
        }

        Telemetry.BatchSize.Record(batch.Writes.Count);
        foreach (var write in batch.Writes)
        {
            batch.Steps.Add(Prepare(write, batch.Triggers, batch.Txns));
        }
    }

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
        catch (TxnInvariantException)
        {
            throw;
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
    /// The zxid after <paramref name="last"/>: the next counter of its epoch. Standalone the epoch is the recovered
    /// zxid's; when the counter runs out it moves to the next epoch, as standalone ZooKeeper's plain increment does (an
    /// ensemble's leader would start an election first, ZOOKEEPER-1277).
    /// </summary>
    internal static Zxid Next(Zxid last) => last.Counter == uint.MaxValue ? new Zxid(last.Epoch + 1, 1) : new Zxid(last.Epoch, last.Counter + 1);

    /// <summary>
    /// Builds the txn and its reply against a local copy of the speculative state, and commits (zxid, txn, state) only
    /// once all of it is done: a throw anywhere before leaves no zxid taken, no txn to log and no half-applied state.
    /// </summary>
    private Step PrepareTxn(PendingWrite write, List<WatchTrigger> triggers, List<Txn> txns)
    {
        var state = _speculative;
        var time = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var zxid = Next(_last);
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
        var result = prepared.MultiResults ?? TxnResults.Of(prepared.Op, next);
        var step = new Step(write, txn, firstTrigger, triggers.Count - firstTrigger, new Reply(ZkErrorCode.Ok, null, result, zxid, next));
        _last = zxid;
        _speculative = next;
        txns.Add(txn);
        return step;
    }
}
