using Zk.Embedded.Api;
using Zk.Embedded.Consensus;

namespace Zk.Embedded.Tests.Consensus;

/// <summary>
/// A chunked SNAP longer than initLimit is a live sync, not a silent peer: each chunk the learner's driver receives
/// and each chunk ack the leader's driver receives reset the sync's limits (<see cref="ZabPeer.SyncProgress"/>), as
/// each read of ZooKeeper's sync stream resets its initLimit socket timeout; without progress both sides give up.
/// </summary>
public sealed class SyncProgressTests
{
    private const int InitLimit = 10; // ConsensusConfig's default, which CoreProbe uses

    [Fact]
    public void A_learner_receiving_SNAP_chunks_keeps_its_leader_past_initLimit_and_gives_up_once_they_stop()
    {
        var probe = new CoreProbe(2, [1, 2, 3]);
        probe.ElectedBy(1, 1, 3);
        probe.Step(1, new LeaderInfo(1));
        probe.Fsync(); // ACKEPOCH sent: now syncing, waiting for the SNAP
        for (var i = 0; i < 4 * InitLimit; i++)
        {
            probe.Core.SyncProgress(1);
            probe.Tick();
        }

        Assert.True(probe.Core.State == ServerState.Following, $"expected the learner to keep following through {4 * InitLimit} ticks of chunks, it is {probe.Core.State}");
        for (var i = 0; i <= InitLimit + 1; i++)
            probe.Tick();
        Assert.True(probe.Core.State == ServerState.Looking, $"expected the learner to give up once chunks stop, it is {probe.Core.State}");
    }

    [Fact]
    public void A_leader_keeps_a_learner_acking_SNAP_chunks_past_initLimit_and_drops_it_once_the_acks_stop()
    {
        var probe = new CoreProbe(1, [1, 2, 3]);
        probe.EstablishLeader(2, 3);
        probe.Step(3, new LearnerInfo(1, false)); // learner 3 reconnects and syncs again
        probe.Step(3, new AckEpoch(1, -1, default));
        for (var i = 0; i < 4 * InitLimit; i++)
        {
            probe.Core.SyncProgress(3);
            probe.Step(2, new Ping(default)); // the other follower stays in touch
            probe.Tick();
        }

        Assert.True(probe.Core.LearnerCounts.Learners == 2, $"expected the syncing learner kept while it acks chunks, learners: {probe.Core.LearnerCounts}");
        for (var i = 0; i <= InitLimit + 1; i++)
        {
            probe.Step(2, new Ping(default));
            probe.Tick();
        }

        Assert.True(probe.Core.LearnerCounts.Learners == 1, $"expected the learner dropped once its acks stop, learners: {probe.Core.LearnerCounts}");
        Assert.Equal(ServerState.Leading, probe.Core.State);
    }
}
