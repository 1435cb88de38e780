using Zk.Embedded.Api;

namespace Zk.Embedded.Consensus;

/// <summary>
/// The peer-to-peer messages of the core. Plain data so a transport can MessagePack them; each names the
/// ZooKeeper packet it stands for (<c>Leader.java</c> constants, <c>FastLeaderElection.Notification</c>).
/// Channels are assumed ordered per pair of peers but may lose messages; every receiver checks what it expects
/// next, so a lost message costs a re-sync, never a wrong state.
/// </summary>
internal abstract record ZabMessage;

/// <summary>FastLeaderElection's notification: my round (<c>logicalclock</c>), my vote, my state.</summary>
internal sealed record Notification(long Round, Vote Vote, ServerState State) : ZabMessage;

/// <summary>FOLLOWERINFO / OBSERVERINFO: the learner's acceptedEpoch.</summary>
internal sealed record LearnerInfo(uint AcceptedEpoch, bool IsObserver) : ZabMessage;

/// <summary>LEADERINFO: the epoch the leader proposes.</summary>
internal sealed record LeaderInfo(uint Epoch) : ZabMessage;

/// <summary>
/// ACKEPOCH for <paramref name="Epoch"/>: the learner's currentEpoch (−1 when it had already accepted this epoch,
/// which the leader does not count, as <c>Learner.registerWithLeader</c> does) and its logged zxid.
/// </summary>
internal sealed record AckEpoch(uint Epoch, long CurrentEpoch, Zxid LastZxid) : ZabMessage;

/// <summary>DIFF: the learner's log up to <paramref name="Zxid"/> is a prefix of the leader's.</summary>
internal sealed record Diff(Zxid Zxid) : ZabMessage;

/// <summary>TRUNC: drop every txn (and every snapshot) after <paramref name="Zxid"/>.</summary>
internal sealed record Trunc(Zxid Zxid) : ZabMessage;

/// <summary>SNAP: replace the whole state with the leader's snapshot.</summary>
internal sealed record Snap(ConsensusSnapshot Snapshot) : ZabMessage;

/// <summary>
/// One piece of a SNAP too large for one transport message (the driver's framing; the core never sees it): bytes
/// [<paramref name="Offset"/>, Offset + Data.Length) of the <paramref name="Total"/>-byte snapshot at
/// <paramref name="Zxid"/>, sent in order on one channel. The learner's driver assembles them into a file and steps its
/// core with the whole SNAP; a gap discards the file (ZooKeeper streams its snapshot over the learner's TCP socket).
/// </summary>
internal sealed record SnapChunk(Zxid Zxid, long Offset, long Total, ReadOnlyMemory<byte> Data) : ZabMessage;

/// <summary>
/// The learner's driver has written <paramref name="Received"/> bytes of the SNAP at <paramref name="Zxid"/>: the
/// leader's driver keeps only a window of chunks unacknowledged, since a transport may drop what a full receiving
/// queue cannot take and the sender cannot see that (TCP's window does this for ZooKeeper's SNAP).
/// </summary>
internal sealed record SnapChunkAck(Zxid Zxid, long Received) : ZabMessage;

/// <summary>
/// PROPOSAL: a txn to log (in the sync stream or in broadcast). <paramref name="Previous"/> is the zxid the leader
/// sent before it on this channel: a lost message shows as a mismatch even across an epoch boundary, where the
/// zxids themselves cannot show a gap. ZooKeeper relies on TCP for this and has no such field.
/// </summary>
internal sealed record Proposal(ConsensusTxn Txn, Zxid Previous) : ZabMessage;

/// <summary>
/// NEWLEADER, sent after the whole sync stream (ZOOKEEPER-3104). <paramref name="CommittedThrough"/> is how far the
/// streamed history is committed once UPTODATE arrives; ZooKeeper sends a COMMIT per streamed txn instead.
/// </summary>
internal sealed record NewLeader(uint Epoch, Zxid CommittedThrough, Zxid StreamEnd) : ZabMessage;

/// <summary>The learner's ACK of NEWLEADER: its history and currentEpoch are durable.</summary>
internal sealed record AckNewLeader(uint Epoch) : ZabMessage;

/// <summary>UPTODATE: the leader is established; the learner may apply and serve.</summary>
internal sealed record UpToDate(uint Epoch) : ZabMessage;

/// <summary>ACK: the follower holds every txn up to <paramref name="Zxid"/> durably (cumulative).</summary>
internal sealed record Ack(Zxid Zxid) : ZabMessage;

/// <summary>COMMIT, to followers, strictly in zxid order.</summary>
internal sealed record Commit(Zxid Zxid) : ZabMessage;

/// <summary>INFORM: a committed txn with its bytes, to observers (they never see the PROPOSAL); <paramref name="Previous"/> as in <see cref="Proposal"/>.</summary>
internal sealed record Inform(ConsensusTxn Txn, Zxid Previous) : ZabMessage;

/// <summary>PING both ways: the leader's heartbeat and the learner's reply (which later carries session touches).</summary>
internal sealed record Ping(Zxid LastCommitted) : ZabMessage;

/// <summary>
/// A learner asks the leader for a read index (etcd's MsgReadIndex): the commit point as of a quorum round started
/// after this request arrived. <paramref name="Id"/> is the learner's own; the reply carries it back. No ZooKeeper packet.
/// </summary>
internal sealed record ReadIndexRequest(long Id) : ZabMessage;

/// <summary>The leader's answer to <see cref="ReadIndexRequest"/>: once the learner has applied <paramref name="Index"/>, its reads are linearizable.</summary>
internal sealed record ReadIndexReply(long Id, Zxid Index) : ZabMessage;

/// <summary>The leader's read-index heartbeat: a follower still following it answers <see cref="ReadProbeAck"/> with the same round.</summary>
internal sealed record ReadProbe(long Round) : ZabMessage;

/// <summary>A follower's answer to <see cref="ReadProbe"/>: it followed this leader when the probe of <paramref name="Round"/> arrived.</summary>
internal sealed record ReadProbeAck(long Round) : ZabMessage;

/// <summary>
/// Client traffic between members: the core never sees it. The driver passes it between the members' pipelines
/// (a follower's forwarded writes, the leader's answers to those that made no txn, session activity), so the core
/// stays the pure ZAB state machine. Bodies are the Ensemble layer's encoding, opaque here.
/// </summary>
internal abstract record ClientTraffic : ZabMessage;

/// <summary>
/// REQUEST (Learner.request): a write a learner forwards to the leader, with its session and cxid, numbered
/// <paramref name="Seq"/> (1, 2, ...) in the learner's <paramref name="Stream"/> to that leader, so that a request the
/// link lost is noticed (<see cref="ForwardMark"/>).
/// </summary>
internal sealed record ForwardedRequest(SessionId SessionId, int Cxid, ReadOnlyMemory<byte> Body, long Stream = 0, long Seq = 0) : ClientTraffic;

/// <summary>
/// The leader's answer to a forwarded request that made no txn (an error, sync, a watch change); a request that made
/// a txn is answered by the txn's commit. ZooKeeper commits an error txn instead (OpCode.error). It carries the
/// request's <paramref name="Stream"/> and its own number among the replies of that stream, <paramref name="Seq"/>.
/// </summary>
internal sealed record ForwardedReply(SessionId SessionId, int Cxid, ReadOnlyMemory<byte> Body, long Stream = 0, long Seq = 0) : ClientTraffic;

/// <summary>
/// A learner asks its leader, once a tick while forwarded writes wait, whether the requests of its
/// <paramref name="Stream"/> through <paramref name="SentThrough"/> all arrived (the link is ordered, so they are in or
/// lost by the time this is). ZooKeeper needs no such thing: its TCP link resends, or breaks and the learner gives up.
/// </summary>
internal sealed record ForwardMark(long Stream, long SentThrough) : ClientTraffic;

/// <summary>
/// The leader's answer to a <see cref="ForwardMark"/>: whether every request of the stream through
/// <paramref name="SentThrough"/> arrived, in order (<paramref name="Intact"/>), and how many replies it sent on the
/// stream before this answer (<paramref name="Replied"/>; they precede it on the ordered link, so fewer received means
/// some were lost).
/// </summary>
internal sealed record ForwardMarkAck(long Stream, long SentThrough, bool Intact, long Replied) : ClientTraffic;

/// <summary>
/// Session activity a learner reports to the leader: the session ids its clients were heard from (ZooKeeper
/// piggybacks them on PING).
/// </summary>
internal sealed record SessionActivity(ReadOnlyMemory<byte> SessionIds) : ClientTraffic;

/// <summary>
/// A learner's claim of a session whose client attached to it (ZooKeeper's REVALIDATE), repeated until the leader
/// answers. <paramref name="ClaimId"/> names this attachment (unique per member), so the leader can tell a late repeat
/// of a claim another member's has since replaced from a new one.
/// </summary>
internal sealed record SessionClaim(SessionId SessionId, long ClaimId) : ClientTraffic;

/// <summary>
/// The leader's answer to a <see cref="SessionClaim"/>: <paramref name="Held"/> when the session is attached to the
/// claimant under that claim; false when another member's later claim replaced it (the claimant claims again only if
/// its client is still there).
/// </summary>
internal sealed record SessionClaimAck(SessionId SessionId, long ClaimId, bool Held) : ClientTraffic;

/// <summary>
/// A vote: the candidate, its logged zxid and its currentEpoch. Ranked by (PeerEpoch, Zxid, Leader), as
/// <c>FastLeaderElection.totalOrderPredicate</c>.
/// </summary>
internal readonly record struct Vote(int Leader, Zxid Zxid, long PeerEpoch)
{
    /// <summary>What an observer proposes: nobody, below every real vote (<c>Long.MIN_VALUE</c> in ZooKeeper).</summary>
    public static Vote None => new(-1, new Zxid(long.MinValue), long.MinValue);

    /// <summary>True when this vote ranks above <paramref name="other"/>.</summary>
    public bool Beats(Vote other, bool withoutEpoch = false) =>
        PeerEpoch != other.PeerEpoch && !withoutEpoch ? PeerEpoch > other.PeerEpoch
        : Zxid != other.Zxid ? Zxid > other.Zxid
        : Leader > other.Leader;
}

/// <summary>QuorumPeer.ServerState.</summary>
internal enum ServerState { Looking, Following, Leading, Observing }

/// <summary>QuorumPeer.ZabState.</summary>
internal enum ZabPhase { Election, Discovery, Synchronization, Broadcast }
