using Microsoft.Extensions.Logging;
using Zk.Embedded.Api;
using Zk.Embedded.Consensus;
using Zk.Embedded.Processing;
using Zk.Embedded.Sessions;
using Zk.Embedded.Storage;
using Zk.Embedded.Tree;
using Zk.Embedded.Txns;
using Zk.Embedded.Watches;

namespace Zk.Embedded.Ensemble;

/// <summary>
/// A member's tree as the consensus driver sees it. While following, committed txns are decoded and applied by a
/// follower-style <see cref="Publisher"/> (answering any request waiting for them by (SessionId, Cxid)). On becoming an
/// established leader it starts a write pipeline from the tree as it stands, whose proposer uses the new epoch and
/// whose <see cref="ReplicatedCommit"/> the driver advances; on losing leadership that pipeline is stopped (its
/// uncommitted writes fail with ConnectionLoss) and following resumes from its published tree. Everything but
/// <see cref="State"/> and <see cref="Writes"/> runs on the driver's loop.
/// </summary>
internal sealed class TreeReplica : IReplicatedState, IReplicaView
{
    /// <summary>How long a snapshot waits for the leader's pipeline to publish what the core already committed.</summary>
    private static readonly TimeSpan PublishWait = TimeSpan.FromSeconds(10);

    private readonly TxnBuilder _builder;
    private readonly WatchManager _watches;
    private readonly SessionTracker _sessions;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly SnapshotSpool? _spool;
    private ReplicatedCommit _followerCommit;
    private Publisher _follower;
    private volatile RequestProcessor? _leading;
    private ReplicatedCommit? _leadingCommit;
    private uint _leadEpoch;

    /// <param name="spool">where a SNAP for a learner is written (then streamed in chunks); null builds it in memory.</param>
    public TreeReplica(TreeState initial, TxnBuilder builder, WatchManager watches, SessionTracker sessions, TimeProvider time, ILogger logger,
        SnapshotSpool? spool = null)
    {
        (_builder, _watches, _sessions, _time, _logger, _spool) = (builder, watches, sessions, time, logger, spool);
        _followerCommit = new ReplicatedCommit(null, initial.Zxid);
        _follower = new Publisher(initial, watches, sessions, _followerCommit, logger);
    }

    /// <summary>The newest published tree: what reads on this member see.</summary>
    public TreeState State => _leading?.State ?? Volatile.Read(ref _follower).State;

    /// <summary>The state whose watches are firing or have fired (see <see cref="RequestProcessor.FiringState"/>).</summary>
    public TreeState FiringState => _leading?.FiringState ?? Volatile.Read(ref _follower).FiringState;

    /// <summary>Where writes enter while this member leads; null otherwise (a follower refuses or forwards them).</summary>
    public IWriteSubmitter? Writes => _leading;

    /// <summary>
    /// The publisher of a following member, which answers its forwarded writes (<see cref="Publisher.ExpectTxn"/>,
    /// <see cref="Publisher.Answer"/>); on the driver's loop only.
    /// </summary>
    public Publisher Follower => _follower;

    /// <summary>Attaches to the driver: role changes start and stop the leader's pipeline, a refused proposal stops it.</summary>
    public void Attach(ConsensusDriver driver)
    {
        driver.RoleChanged += change => OnRoleChanged(driver, change);
        driver.ProposalRefused += OnProposalRefused;
    }

    /// <summary>
    /// For the deterministic simulator (tests/Zk.Testing), which runs this on its one thread: the leader's pipeline is
    /// stepped (<see cref="RequestProcessor.Stepped"/>) by <see cref="RunPipeline"/> instead of running its loops.
    /// </summary>
    internal bool Stepped { get; init; }

    /// <summary>A stepped leader's pipeline does what it can now (<see cref="RequestProcessor.RunPending"/>).</summary>
    internal void RunPipeline() => _leading?.RunPending();

    /// <summary>The core refused one of the pipeline's txns: that term's pipeline stops (its later zxids could never match).</summary>
    internal void OnProposalRefused(Zxid zxid, string reason) => _leadingCommit?.Fail($"zxid {zxid} could not be proposed: {reason}");

    public void Apply(ConsensusTxn txn)
    {
        if (_leadingCommit is { } commit)
        {
            // Every txn of an earlier epoch was applied before the pipeline started from the tree: it holds them all.
            if (txn.Zxid.Epoch != _leadEpoch)
                throw new TxnInvariantException($"Txn {txn.Zxid} of an earlier epoch was committed after this leader's epoch {_leadEpoch} pipeline started: its tree would miss it.");
            commit.Advance(txn.Zxid); // proposed by this term's pipeline, which publishes it
            return;
        }

        // The core applies its history without gaps; a txn that does not follow the tree means the tree lost one.
        var published = _follower.State.Zxid;
        if (!LogWindow.IsNext(published, txn.Zxid))
            throw new TxnInvariantException($"Txn {txn.Zxid} does not follow this member's tree at {published}: a committed txn is missing from it.");
        _followerCommit.Advance(txn.Zxid);
        _follower.Publish(TxnCodec.Decode(txn.Data, txn.Zxid));
    }

    public void Restore(ConsensusSnapshot snapshot) => Restore(ReadSnapshot(snapshot));

    /// <summary>Following resumes from <paramref name="state"/> (a SNAP's tree).</summary>
    internal void Restore(TreeState state)
    {
        _followerCommit = new ReplicatedCommit(null, state.Zxid);
        Volatile.Write(ref _follower, new Publisher(state, _watches, _sessions, _followerCommit, _logger));
    }

    public ConsensusSnapshot Take()
    {
        var state = State;
        if (_leading is { } leading && _leadingCommit is { } commit)
        {
            // The core has committed through the watermark; the pipeline publishes it on its own loop, soon.
            var deadline = _time.GetTimestamp() + (long)(PublishWait.TotalSeconds * _time.TimestampFrequency);
            var spin = new SpinWait();
            while ((state = leading.State).Zxid < commit.CommittedZxid && _time.GetTimestamp() < deadline)
                spin.SpinOnce(sleep1Threshold: 20); // yields a few times, then sleeps 1 ms a turn instead of burning a core
        }

        if (_spool is { } spool)
            return new ConsensusSnapshot(state.Zxid, ReadOnlyMemory<byte>.Empty) { Body = spool.WriteLater(state) };
        return SnapshotBytes.Write(state);
    }

    /// <summary>
    /// The newest published tree: immutable, and published only once committed (the leader's pipeline publishes
    /// after the core's commit), so the snapshot holds no uncommitted txn.
    /// </summary>
    public Func<SnapshotSpool, ConsensusSnapshot>? CaptureApplied()
    {
        var state = State;
        return spool => new ConsensusSnapshot(state.Zxid, ReadOnlyMemory<byte>.Empty) { Body = spool.Write(state) };
    }

    /// <summary>
    /// Stops the leader's pipeline, if any, and answers the writes this member forwarded: all fail with ConnectionLoss
    /// (their outcome is unknown), as a stopped ZooKeeper server's clients see. After the driver stopped, so nothing
    /// else touches the publisher.
    /// </summary>
    public async ValueTask StopAsync()
    {
        // A crashed follower's forwarded writes would otherwise wait for a commit that never reaches it: their
        // sessions' calls never returned (found by a FaultyEnsemble test that hung).
        _follower.FailWaiting();
        if (_leading is { } pipeline)
        {
            _leadingCommit!.Fail("the peer is stopping");
            await pipeline.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>The tree a SNAP or the consensus log's snapshot holds.</summary>
    public static TreeState ReadSnapshot(ConsensusSnapshot snapshot) =>
        snapshot.Body is SnapshotBody body ? SnapshotFile.Read(body.Path) : SnapshotBytes.Read(snapshot);

    /// <summary>Starts the leader's pipeline when this member becomes an established leader, stops it when it stops leading.</summary>
    /// <param name="driver">where the pipeline's txns go to be proposed.</param>
    internal void OnRoleChanged(IProposalSink driver, RoleChange change)
    {
        if (change.Phase != ZabPhase.Broadcast)
        {
            // Forwarded writes went to a leader this member no longer follows: their outcome is unknown
            // (ConnectionLoss), as a ZooKeeper follower drops its pending requests when it stops following.
            _follower.FailWaiting();
        }

        if (change is { State: ServerState.Leading, Phase: ZabPhase.Broadcast } && _leading is null)
        {
            var tree = _follower.State;
            _leadEpoch = change.Epoch;
            _leadingCommit = new ReplicatedCommit(driver, tree.Zxid);
            var pipeline = new RequestProcessor(tree, _builder, _watches, _sessions, _leadingCommit, _time, _logger, new Zxid(change.Epoch, 0)) { Stepped = Stepped };
            if (!Stepped)
                pipeline.Start();
            _leading = pipeline;
        }
        else if (change.State != ServerState.Leading && _leading is { } pipeline)
        {
            _leadingCommit!.Fail(change.Reason);
            // Bounded: every wait of the pipeline fails now, so its loops end without the driver.
            pipeline.DisposeAsync().AsTask().Wait(PublishWait);
            _followerCommit = new ReplicatedCommit(null, pipeline.State.Zxid);
            Volatile.Write(ref _follower, new Publisher(pipeline.State, _watches, _sessions, _followerCommit, _logger));
            (_leading, _leadingCommit) = (null, null);
        }
    }

    /// <summary>
    /// A tree as snapshot bytes, in the snapshot file format, for a member without a spool and for snapshots held in
    /// memory (the in-memory store): through a temporary file, as the format's writer and reader work on files.
    /// </summary>
    private static class SnapshotBytes
    {
        public static ConsensusSnapshot Write(TreeState state)
        {
            var dir = Directory.CreateTempSubdirectory("zk-snap-");
            try
            {
                return new ConsensusSnapshot(state.Zxid, File.ReadAllBytes(SnapshotFile.Write(dir.FullName, state)));
            }
            finally
            {
                dir.Delete(recursive: true);
            }
        }

        public static TreeState Read(ConsensusSnapshot snapshot)
        {
            var dir = Directory.CreateTempSubdirectory("zk-snap-");
            try
            {
                var path = Path.Combine(dir.FullName, SnapshotFile.NameFor(snapshot.Zxid));
                File.WriteAllBytes(path, snapshot.Data.ToArray());
                return SnapshotFile.Read(path);
            }
            finally
            {
                dir.Delete(recursive: true);
            }
        }
    }
}
