using Zk.Embedded.Txns;
using Zk.Embedded.Api;
using Zk.Embedded.Consensus;

namespace Zk.Embedded.Tests.Consensus;

/// <summary>The rules one peer enforces alone (CONSENSUS-NOTES §2–4, §10), each driven by hand through <see cref="CoreProbe"/>.</summary>
public sealed class ZabRuleTests
{
    private static readonly Zxid E1C1 = new(1, 1);
    private static readonly Zxid E1C2 = new(1, 2);

    [Fact]
    public void Votes_rank_by_currentEpoch_then_zxid_then_server_id()
    {
        var older = new Vote(3, new Zxid(1, 9), PeerEpoch: 1);
        var newerEpoch = new Vote(1, new Zxid(1, 2), PeerEpoch: 2);
        Assert.True(newerEpoch.Beats(older), "a later currentEpoch must win even with a shorter log");
        Assert.True(new Vote(1, new Zxid(2, 5), 2).Beats(new Vote(3, new Zxid(2, 4), 2)), "same epoch: the longer log wins");
        Assert.True(new Vote(3, new Zxid(2, 4), 2).Beats(new Vote(2, new Zxid(2, 4), 2)), "a tie goes to the higher id");
        Assert.False(Vote.None.Beats(new Vote(1, default, 0)), "an observer's vote loses to every real one");
    }

    [Fact]
    public void A_looking_peer_adopts_only_a_better_vote()
    {
        var probe = new CoreProbe(1, [1, 2, 3], disk: Disk(acceptedEpoch: 2, currentEpoch: 2, Txn(2, 1), Txn(2, 2), Txn(2, 3)));
        probe.Step(2, new Notification(1, new Vote(2, new Zxid(1, 9), 1), ServerState.Looking));
        Assert.Equal(1, probe.Core.CurrentVote.Leader);
        probe.Step(3, new Notification(1, new Vote(3, new Zxid(2, 5), 2), ServerState.Looking));
        Assert.Equal(3, probe.Core.CurrentVote.Leader);
        Assert.Contains(probe.SentTo<Notification>(2), n => n.Vote.Leader == 3);   // the adopted vote is rebroadcast
    }

    [Fact]
    public void A_peer_decides_once_a_quorum_holds_its_vote()
    {
        var probe = new CoreProbe(2, [1, 2, 3]);
        probe.Step(1, new Notification(1, new Vote(1, default, 0), ServerState.Looking));   // loses to our own vote
        Assert.Equal(ServerState.Looking, probe.Core.State);
        probe.Step(3, new Notification(1, new Vote(3, default, 0), ServerState.Looking));
        Assert.Equal(ServerState.Following, probe.Core.State);
        Assert.Equal(3, probe.Core.Leader);
        Assert.Single(probe.SentTo<LearnerInfo>(3));
    }

    [Fact]
    public void A_lone_voter_leads_after_a_tick_once_its_epochs_are_durable()
    {
        var probe = new CoreProbe(1, [1]);
        probe.Tick();
        probe.Fsync();   // acceptedEpoch
        Assert.Null(probe.Core.EstablishedEpoch);
        probe.Fsync();   // currentEpoch
        Assert.Equal(1u, probe.Core.EstablishedEpoch);
        var zxid = probe.Propose("a");
        Assert.Empty(probe.Committed);
        probe.Fsync();
        Assert.Equal([zxid], probe.Committed.ConvertAll(t => t.Zxid));
    }

    [Fact]
    public void A_learner_sends_its_LearnerInfo_again_until_the_leader_answers()
    {
        // A follower often decides before its leader does; its first LearnerInfo then reaches a peer still LOOKING,
        // which drops it. Without a retry the leader never hears a quorum and both time out, election after election.
        var probe = new CoreProbe(2, [1, 2, 3]);
        probe.ElectedBy(1, 1, 3);
        Assert.Single(probe.SentTo<LearnerInfo>(1));
        probe.Tick();
        Assert.True(probe.SentTo<LearnerInfo>(1).Count == 2, "expected the learner to send LearnerInfo again on a tick without LEADERINFO");
        probe.Step(1, new LeaderInfo(1));
        probe.Step(1, new LeaderInfo(1));   // the answer to the second one
        Assert.Equal(ServerState.Following, probe.Core.State);
        probe.Tick();
        Assert.True(probe.SentTo<LearnerInfo>(1).Count == 2, "expected no more LearnerInfo once LEADERINFO arrived");
    }

    [Fact]
    public void A_learner_whose_leader_follows_it_goes_looking_instead_of_waiting_for_ever()
    {
        // Two peers that decided to follow each other (crossed restarts) each retry LearnerInfo every tick; if that
        // counted as hearing the leader, neither would ever time out (simulator seed 178 of the read-index plant).
        var probe = new CoreProbe(2, [1, 2, 3]);
        probe.ElectedBy(1, 1, 3);
        probe.Step(1, new LearnerInfo(0, IsObserver: false));
        Assert.True(probe.Core.State == ServerState.Looking, $"expected LOOKING once the peer we follow sent us LearnerInfo, got {probe.Core.State}");
    }

    [Fact]
    public void A_learner_goes_looking_at_once_when_its_leaders_connection_closes()
    {
        var probe = new CoreProbe(2, [1, 2, 3]);
        probe.ElectedBy(1, 1, 3);
        probe.Core.Disconnected(3);   // another follower: nothing changes
        Assert.Equal(ServerState.Following, probe.Core.State);
        probe.Core.Disconnected(1);
        Assert.True(probe.Core.State == ServerState.Looking, "expected a learner whose leader's connection closed to go LOOKING without waiting syncLimit ticks");
    }

    [Fact]
    public void A_follower_whose_leader_is_silent_for_syncLimit_ticks_joins_a_looking_voter_without_waiting_its_own_timeout()
    {
        var probe = new CoreProbe(2, [1, 2, 3]);
        probe.FollowLeaderOne(3);
        var looking = new Notification(2, new Vote(3, default, 1000), ServerState.Looking);
        for (var tick = 0; tick < 4; tick++)
            probe.Tick();   // syncLimit is 5: silent for 4 ticks
        probe.Step(3, looking);
        Assert.True(probe.Core.State == ServerState.Following, $"expected a follower that heard its leader 4 ticks ago to stay, got {probe.Core.State}");
        probe.Tick();       // 5 ticks: its own timeout is the next tick
        Assert.Equal(ServerState.Following, probe.Core.State);
        probe.Step(3, looking);
        Assert.True(probe.Core.State == ServerState.Looking, $"expected a follower silent for syncLimit ticks to go LOOKING on a voter's LOOKING notification, got {probe.Core.State}");
    }

    [Fact]
    public void A_leader_gives_up_when_a_follower_is_ahead_of_it()
    {
        var probe = new CoreProbe(1, [1, 2, 3]);
        probe.ElectedBy(1, 2, 3);
        probe.Step(2, new LearnerInfo(0, false));
        probe.Fsync();
        Assert.Equal(ServerState.Leading, probe.Core.State);
        probe.Step(2, new AckEpoch(1, CurrentEpoch: 0, LastZxid: E1C2));   // same epoch, longer log
        Assert.Equal(ServerState.Looking, probe.Core.State);
    }

    [Fact]
    public void A_leader_steps_down_for_a_learner_that_accepted_a_newer_epoch()
    {
        // Found by the simulator: the learner acknowledged epoch 5 of a leader that never established, then a quorum
        // without it settled on epoch 2; it refuses epoch 2 for ever, and a leader that keeps going keeps it out.
        var probe = new CoreProbe(1, [1, 2, 3]);
        probe.ElectedBy(1, 2, 3);
        probe.Step(2, new LearnerInfo(0, false));
        probe.Fsync();
        Assert.Equal(ServerState.Leading, probe.Core.State);
        probe.Step(3, new LearnerInfo(5, false));
        Assert.True(probe.Core.State == ServerState.Looking, $"expected the epoch-1 leader to give up for a learner that accepted epoch 5, but it is {probe.Core.State}");
        Assert.Empty(probe.SentTo<LeaderInfo>(3));
    }

    [Fact]
    public void The_leader_pings_its_learners_every_PingEveryTicks_not_every_tick()
    {
        var probe = new CoreProbe(1, [1, 2, 3], configure: c => c with { PingEveryTicks = 3, SyncLimit = 20 });
        probe.EstablishLeader(2, 3);
        probe.Sent.Clear();
        for (var i = 0; i < 9; i++)
            probe.Tick();
        Assert.Equal(ServerState.Leading, probe.Core.State);
        Assert.True(probe.SentTo<Ping>(2).Count == 3, $"expected 3 pings to learner 2 in 9 ticks at one every 3, got {probe.SentTo<Ping>(2).Count}");

        // A ping interval a learner's silence limit cannot hold is refused.
        var config = new ConsensusConfig { MyId = 1, Voters = [1, 2, 3], SyncLimit = 1, PingEveryTicks = 5 };
        Assert.Throws<ArgumentException>(config.Validate);
    }

    [Fact]
    public void A_learner_whose_chosen_leader_votes_for_another_before_leading_elects_again()
    {
        // Three members starting together: peer 1 decided on 2 from {1, 2}; 2 then took 3's better vote.
        var probe = new CoreProbe(1, [1, 2, 3]);
        probe.ElectedBy(2, 1, 2);
        Assert.Equal(ServerState.Following, probe.Core.State);
        probe.Step(2, new Notification(1, new Vote(3, default, 1000), ServerState.Following));
        Assert.True(probe.Core.State == ServerState.Looking, $"expected peer 1 to elect again once its leader follows 3, but it is {probe.Core.State}");
    }

    [Fact]
    public void A_learner_keeps_its_leader_for_the_leaders_own_earlier_vote_or_once_it_has_said_it_leads()
    {
        var probe = new CoreProbe(1, [1, 2, 3]);
        probe.ElectedBy(2, 1, 2);
        probe.Step(2, new Notification(1, new Vote(2, default, 1000), ServerState.Looking));   // its vote for itself, sent before it decided
        Assert.Equal(ServerState.Following, probe.Core.State);
        probe.Step(2, new LeaderInfo(1));
        probe.Step(2, new Notification(1, new Vote(3, default, 1000), ServerState.Looking));   // once it has said it leads, the rule is off
        Assert.Equal(ServerState.Following, probe.Core.State);
    }

    [Fact]
    public void A_learner_abandons_a_leader_whose_epoch_is_older_than_its_acceptedEpoch()
    {
        var probe = new CoreProbe(2, [1, 2, 3], disk: Disk(acceptedEpoch: 5, currentEpoch: 4));
        probe.ElectedBy(1, 1, 3);
        Assert.Equal(ServerState.Following, probe.Core.State);
        probe.Step(1, new LeaderInfo(3));
        Assert.Equal(ServerState.Looking, probe.Core.State);
        Assert.Empty(probe.SentTo<AckEpoch>(1));
    }

    [Fact]
    public void A_learner_acknowledges_the_epoch_the_new_leader_and_each_proposal_only_once_durable()
    {
        var probe = new CoreProbe(2, [1, 2, 3]);
        probe.ElectedBy(1, 1, 3);
        probe.Step(1, new LeaderInfo(1));
        Assert.Empty(probe.SentTo<AckEpoch>(1));
        probe.Fsync();
        Assert.Single(probe.SentTo<AckEpoch>(1));

        probe.Step(1, new Diff(default));
        probe.Step(1, new Proposal(new ConsensusTxn(E1C1, new byte[] { 1 }), default));   // a late joiner's new-epoch txn
        Assert.Empty(probe.Persisted.FindAll(p => p is AppendTxn));                       // waits for currentEpoch
        probe.Step(1, new NewLeader(1, E1C1, E1C1));
        Assert.IsType<WriteCurrentEpoch>(probe.Persisted[^2]);
        Assert.IsType<AppendTxn>(probe.Persisted[^1]);
        Assert.Empty(probe.SentTo<AckNewLeader>(1));
        probe.Fsync();
        Assert.Single(probe.SentTo<AckNewLeader>(1));
        Assert.Empty(probe.Committed);   // nothing applies before UPTODATE

        probe.Step(1, new UpToDate(1));
        Assert.True(probe.Core.IsServing);
        Assert.Equal([E1C1], probe.Committed.ConvertAll(t => t.Zxid));
        probe.Step(1, new Proposal(new ConsensusTxn(E1C2, new byte[] { 2 }), E1C1));
        Assert.Empty(probe.SentTo<Ack>(1).FindAll(a => a.Zxid == E1C2));
        probe.Fsync();
        Assert.Equal(E1C2, probe.SentTo<Ack>(1)[^1].Zxid);
    }

    [Fact]
    public void A_leader_commits_only_when_a_quorum_of_voters_holds_the_txn()
    {
        var probe = new CoreProbe(1, [1, 2, 3, 4, 5]);
        probe.EstablishLeader(2, 3);
        var zxid = probe.Propose("a");
        probe.Fsync();                       // the leader's own ack: 1 of 5
        probe.Step(2, new Ack(zxid));        // 2 of 5
        Assert.Empty(probe.Committed);
        Assert.Empty(probe.SentTo<Commit>(2));
        probe.Step(3, new Ack(zxid));        // 3 of 5
        Assert.Equal([zxid], probe.Committed.ConvertAll(t => t.Zxid));
        Assert.Single(probe.SentTo<Commit>(2));
    }

    [Fact]
    public void A_leader_commits_strictly_in_zxid_order_and_each_txn_once()
    {
        var probe = new CoreProbe(1, [1, 2, 3]);
        probe.EstablishLeader(2);
        var first = probe.Propose("a");
        var second = probe.Propose("b");
        probe.Step(2, new Ack(second));      // one voter holds both; the leader's log is not yet durable
        Assert.Empty(probe.Committed);
        probe.Fsync();
        Assert.Equal([first, second], probe.Committed.ConvertAll(t => t.Zxid));
        Assert.Equal([first, second], probe.SentTo<Commit>(2).ConvertAll(c => c.Zxid));
    }

    [Fact]
    public void A_follower_refuses_a_commit_that_skips_a_pending_proposal()
    {
        var probe = new CoreProbe(2, [1, 2, 3]);
        probe.FollowLeaderOne(1, 3);
        Assert.True(probe.Core.IsServing);
        probe.Step(1, new Proposal(new ConsensusTxn(E1C1, new byte[] { 1 }), default));
        probe.Step(1, new Proposal(new ConsensusTxn(E1C2, new byte[] { 2 }), E1C1));
        probe.Step(1, new Commit(E1C2));
        Assert.Equal(ServerState.Looking, probe.Core.State);
        Assert.Empty(probe.Committed);
    }

    [Fact]
    public void Observer_acks_never_count_and_observers_get_inform_not_proposals()
    {
        var probe = new CoreProbe(1, [1, 2, 3], observers: [4]);
        probe.EstablishLeader(2, 4);
        var zxid = probe.Propose("a");
        Assert.Empty(probe.SentTo<Proposal>(4));
        probe.Step(4, new Ack(zxid));        // an observer's ack (it should never send one) is ignored
        probe.Step(2, new Ack(zxid));        // 1 voter of 3; the leader's own log is not durable yet
        Assert.Empty(probe.Committed);
        probe.Fsync();
        Assert.Single(probe.Committed);
        Assert.Single(probe.SentTo<Inform>(4));
        Assert.Empty(probe.SentTo<Commit>(4));
    }

    [Fact]
    public void A_follower_truncates_an_uncommitted_tail_on_trunc()
    {
        var probe = new CoreProbe(2, [1, 2, 3], disk: Disk(acceptedEpoch: 1, currentEpoch: 1, Txn(1, 1), Txn(1, 2), Txn(1, 3)));
        probe.ElectedBy(new Vote(1, E1C1, 2), 1, 3);
        probe.Step(1, new LeaderInfo(2));
        probe.Fsync();
        Assert.Equal(ServerState.Following, probe.Core.State);
        probe.Step(1, new Trunc(E1C1));
        Assert.Contains(probe.Persisted, p => p is TruncateAfter t && t.Zxid == E1C1);
        Assert.Equal(E1C1, probe.Core.LastLogged);
    }

    [Fact]
    public void Start_refuses_epoch_files_behind_the_log()
    {
        var disk = Disk(acceptedEpoch: 1, currentEpoch: 1, Txn(2, 1));
        var e = Assert.Throws<InvalidOperationException>(() => new CoreProbe(1, [1, 2, 3], disk: disk));
        Assert.Contains("currentEpoch 1 is older than the last zxid", e.Message);
    }

    private static ConsensusTxn Txn(uint epoch, uint counter) => new(new Zxid(epoch, counter), new byte[] { (byte)counter });

    private static PersistedState Disk(uint acceptedEpoch, uint currentEpoch, params ConsensusTxn[] log) =>
        new(acceptedEpoch, currentEpoch, default, log);
}
