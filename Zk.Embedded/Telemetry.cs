using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Zk.Embedded.Api;

namespace Zk.Embedded;

/// <summary>
/// The assembly's one <see cref="Meter"/> and its instruments. Names are dotted with units, and are contract:
/// dashboards and the mntr four-letter word read them. Gauges add up every peer of the process.
/// </summary>
internal static class Telemetry
{
    public const string MeterName = "Zk.Embedded";

    public static readonly Meter Meter = new(MeterName, "1.0");

    /// <summary>
    /// Spans (docs/metrics.md, Tracing): a write from submission to reply, in process or over the wire, and each commit
    /// of a batch. Reads have none: they are served from memory in microseconds, less than a span costs. Elections
    /// get spans with the consensus driver.
    /// </summary>
    public static readonly ActivitySource Source = new(MeterName, "1.0");

    /// <summary>A span for one write, or null (at the cost of one check) when nobody listens.</summary>
    public static Activity? StartWrite(string op, SessionId sessionId, ActivityKind kind)
    {
        if (!Source.HasListeners())
        {
            return null;
        }

        var activity = Source.StartActivity("zk " + op, kind);
        activity?.SetTag("zk.op", op);
        activity?.SetTag("zk.session_id", sessionId.Value); // tags stay longs, as ZooKeeper's ids are
        return activity;
    }

    /// <summary>Ends a write's span with its result: ZooKeeper's error code, and the zxid of the reply.</summary>
    public static void EndWrite(Activity? activity, ZkErrorCode error, Zxid zxid)
    {
        if (activity is null)
        {
            return;
        }

        activity.SetTag("zk.zxid", zxid.Value);
        activity.SetTag("zk.result", error.ToString());
        if (error != ZkErrorCode.Ok)
        {
            activity.SetStatus(ActivityStatusCode.Error, error.ToString());
        }

        activity.Dispose();
    }

    /// <summary>
    /// A span for one commit: a batch made durable (with a sink) and applied. Its own trace: one commit serves the
    /// writes of many sessions, and the pipeline's loop must not inherit the trace of whoever started the peer.
    /// </summary>
    public static Activity? StartCommit(int txns, Zxid firstZxid, Zxid lastZxid)
    {
        if (txns == 0 || !Source.HasListeners())
        {
            return null;
        }

        var activity = StartRoot("zk commit");
        activity?.SetTag("zk.txns", txns);
        activity?.SetTag("zk.zxid.first", firstZxid.Value);
        activity?.SetTag("zk.zxid.last", lastZxid.Value);
        return activity;
    }

    /// <summary>
    /// A span for one election of a consensus member: from going LOOKING until it serves in an established epoch
    /// (broadcast phase) as leader, follower or observer. Its own trace, as commits are.
    /// </summary>
    public static Activity? StartElection(int serverId, string reason)
    {
        if (!Source.HasListeners())
        {
            return null;
        }

        var activity = StartRoot("zk election");
        activity?.SetTag("zk.server_id", serverId);
        activity?.SetTag("zk.election.reason", reason);
        return activity;
    }

    /// <summary>A span in a trace of its own, whatever the current activity of the thread that starts it.</summary>
    private static Activity? StartRoot(string name)
    {
        var parent = Activity.Current;
        Activity.Current = null;
        var activity = Source.StartActivity(name, ActivityKind.Internal);
        Activity.Current = parent;
        return activity;
    }

    /// <summary>Requests served, tagged by op (create, getData, ...) and result code.</summary>
    public static readonly Counter<long> Requests = Meter.CreateCounter<long>("zk.requests", "{request}", "Requests served");

    /// <summary>From a write's submission to its reply, in seconds.</summary>
    public static readonly Histogram<double> WriteDuration = Meter.CreateHistogram<double>("zk.write.duration", "s", "Write latency through the txn pipeline");

    /// <summary>Txns committed.</summary>
    public static readonly Counter<long> TxnsCommitted = Meter.CreateCounter<long>("zk.txn.committed", "{txn}", "Txns committed and applied");

    /// <summary>Requests taken per pipeline batch.</summary>
    public static readonly Histogram<int> BatchSize = Meter.CreateHistogram<int>("zk.txn.batch.size", "{request}", "Requests per pipeline batch");

    /// <summary>Watch events delivered to sessions.</summary>
    public static readonly Counter<long> WatchEvents = Meter.CreateCounter<long>("zk.watch.events", "{event}", "Watch events fired");

    /// <summary>fsyncs of the txn log's WAL (one per durable batch).</summary>
    public static readonly Counter<long> LogSyncs = Meter.CreateCounter<long>("zk.txn.log.syncs", "{sync}", "Txn log fsyncs");

    /// <summary>How long one txn log fsync took, in seconds.</summary>
    public static readonly Histogram<double> LogSyncDuration = Meter.CreateHistogram<double>("zk.txn.log.sync.duration", "s", "Txn log fsync latency");

    /// <summary>How long one background checkpoint of the txn log took (a LiteDB WAL copied into its data file), in seconds.</summary>
    public static readonly Histogram<double> LogCheckpointDuration = Meter.CreateHistogram<double>("zk.txn.log.checkpoint.duration", "s", "Txn log background checkpoint time");

    /// <summary>Peers running in this process; the gauges below add them up (one set of gauges, not one per peer).</summary>
    private static readonly ConcurrentDictionary<PeerCore, byte> Peers = new();

    /// <summary>Znodes in the trees of this process's peers.</summary>
    public static readonly ObservableGauge<long> Znodes = Meter.CreateObservableGauge("zk.znodes", () => Sum(p => p.Pipeline.State.NodeCount), "{znode}", "Znodes in the tree");

    /// <summary>Live sessions.</summary>
    public static readonly ObservableGauge<long> SessionsActive = Meter.CreateObservableGauge("zk.sessions.active", () => Sum(p => p.Sessions.Count), "{session}", "Live sessions");

    /// <summary>Server-side watch registrations.</summary>
    public static readonly ObservableGauge<long> WatchesActive = Meter.CreateObservableGauge("zk.watches.active", () => Sum(p => p.Watches.Count), "{watch}", "Server-side watch registrations");

    public static void Register(PeerCore peer) => Peers.TryAdd(peer, 0);

    public static void Unregister(PeerCore peer) => Peers.TryRemove(peer, out _);

    private static long Sum(Func<PeerCore, int> measure)
    {
        long total = 0;
        foreach (var peer in Peers.Keys)
        {
            total += measure(peer);
        }

        return total;
    }

    /// <summary>Learners synchronised by the leader, by kind (diff, trunc, snap): ZooKeeper's diff_count and snap_count.</summary>
    public static readonly Counter<long> LearnerSyncs = Meter.CreateCounter<long>("zk.learner.syncs", "{sync}", "Learners synchronised, by kind");

    /// <summary>Transport messages an ensemble member sent to other members (each a frame of one or more consensus messages).</summary>
    public static readonly Counter<long> QuorumFrames = Meter.CreateCounter<long>("zk.quorum.frames", "{frame}", "Consensus frames sent");

    /// <summary>Consensus messages an ensemble member sent, batched into <see cref="QuorumFrames"/>.</summary>
    public static readonly Counter<long> QuorumMessages = Meter.CreateCounter<long>("zk.quorum.messages", "{message}", "Consensus messages sent, batched into frames");

    /// <summary>Sessions expired by the peer.</summary>
    public static readonly Counter<long> SessionsExpired = Meter.CreateCounter<long>("zk.sessions.expired", "{session}", "Sessions expired");

    /// <summary>
    /// Reattaches to an ensemble member answered before its leader answered their claim (a tick passed: the claim or its
    /// answer was lost or slow); the session's writes through that member may meet SessionMoved until the claim lands.
    /// </summary>
    public static readonly Counter<long> ReattachesUnanswered = Meter.CreateCounter<long>("zk.sessions.reattach.unanswered", "{reattach}", "Reattaches answered before the leader answered their claim");

    /// <summary>
    /// Writes a learner had forwarded to its leader and failed with ConnectionLoss, by <c>reason</c>: <c>disconnected</c>
    /// (the link to the leader closed), <c>link_gap</c> (the leader's answer to a mark showed a request or reply lost on
    /// a link that stayed up), <c>unanswered</c> (no answer within 2 × max(initLimit, syncLimit) ticks).
    /// </summary>
    public static readonly Counter<long> ForwardsFailed = Meter.CreateCounter<long>("zk.forwards.failed", "{write}", "Forwarded writes failed with ConnectionLoss because traffic to or from the leader was lost");
}
