using Zk.Embedded.Api;
using Zk.Embedded.Consensus;

namespace Zk.Embedded.Tests.Consensus;

/// <summary>The read-index rules of one peer (docs/consensus.md, "Linearizable reads"), driven by hand through <see cref="CoreProbe"/>.</summary>
public sealed class ReadIndexRuleTests
{
    [Fact]
    public void A_leader_answers_a_read_index_only_once_a_quorum_acked_a_probe_sent_after_the_request()
    {
        var probe = LeaderOfFive(out var committed);
        probe.ReadIndex(7);
        Assert.Empty(probe.Reads);
        var round = Assert.Single(probe.SentTo<ReadProbe>(2)).Round;
        for (var sid = 3; sid <= 5; sid++)
            Assert.Equal(round, Assert.Single(probe.SentTo<ReadProbe>(sid)).Round);

        probe.Step(2, new ReadProbeAck(round - 1));   // an earlier round says nothing about this request
        probe.Step(2, new ReadProbeAck(round));
        Assert.True(probe.Reads.Count == 0, "two of five (the leader and one follower) are no quorum: no answer expected");
        probe.Step(3, new ReadProbeAck(round));
        var read = Assert.Single(probe.Reads);
        Assert.Equal(new ReadIndexResult(7, committed), read);
    }

    [Fact]
    public void Reads_that_arrive_while_a_round_is_out_share_the_next_round()
    {
        var probe = LeaderOfFive(out var committed);
        probe.ReadIndex(1);
        probe.ReadIndex(2);
        probe.ReadIndex(3);
        var first = Assert.Single(probe.SentTo<ReadProbe>(2)).Round;
        probe.Sent.Clear();
        probe.Step(2, new ReadProbeAck(first));
        probe.Step(3, new ReadProbeAck(first));
        Assert.Equal([1L], probe.Reads.ConvertAll(r => r.Id));
        // Reads 2 and 3 came after round `first` started: its acks cannot prove anything about them.
        var second = Assert.Single(probe.SentTo<ReadProbe>(4)).Round;
        Assert.True(second > first, $"expected one new round after {first}, got {second}");
        probe.Step(4, new ReadProbeAck(second));
        probe.Step(5, new ReadProbeAck(second));
        Assert.Equal([1L, 2L, 3L], probe.Reads.ConvertAll(r => r.Id));
        Assert.All(probe.Reads, r => Assert.Equal(committed, r.Index));
    }

    [Fact]
    public void Observers_acks_of_a_probe_do_not_count()
    {
        var probe = new CoreProbe(1, [1, 2, 3], observers: [4]);
        probe.EstablishLeader(2, 3, 4);
        probe.ReadIndex(9);
        Assert.Empty(probe.SentTo<ReadProbe>(4));
        var round = Assert.Single(probe.SentTo<ReadProbe>(2)).Round;
        probe.Step(4, new ReadProbeAck(round));
        Assert.True(probe.Reads.Count == 0, "an observer's ack must not make a quorum with the leader");
        probe.Step(2, new ReadProbeAck(round));
        Assert.Single(probe.Reads);
    }

    [Fact]
    public void A_lone_voter_answers_a_read_index_at_once()
    {
        var probe = new CoreProbe(1, [1]);
        probe.Tick();
        probe.Fsync();
        probe.Fsync();
        var zxid = probe.Propose("a");
        probe.Fsync();
        probe.ReadIndex(1);
        Assert.Equal(new ReadIndexResult(1, zxid), Assert.Single(probe.Reads));
    }

    [Fact]
    public void A_peer_that_does_not_serve_fails_a_read_index_at_once()
    {
        var probe = new CoreProbe(1, [1, 2, 3]);
        probe.ReadIndex(4);
        Assert.Equal(new ReadIndexResult(4, null), Assert.Single(probe.Reads));
        Assert.Empty(probe.Sent.FindAll(o => o.Message is ReadProbe or ReadIndexRequest));
    }

    [Fact]
    public void A_leader_cut_off_from_its_quorum_never_answers_and_fails_the_read_when_it_steps_down()
    {
        var probe = LeaderOfFive(out _);
        probe.ReadIndex(5);
        for (var i = 0; i < 10 && probe.Core.State == ServerState.Leading; i++)
        {
            probe.Tick();
            Assert.DoesNotContain(probe.Reads, r => r.Index is not null);
        }
        Assert.Equal(ServerState.Looking, probe.Core.State);
        Assert.Equal(new ReadIndexResult(5, null), Assert.Single(probe.Reads));
    }

    [Fact]
    public void A_leader_probes_again_each_tick_until_the_round_completes()
    {
        var probe = LeaderOfFive(out _);
        probe.ReadIndex(5);
        probe.Sent.Clear();
        probe.Tick();   // the first probes or their acks may have been lost
        var again = Assert.Single(probe.SentTo<ReadProbe>(2)).Round;
        probe.Step(2, new ReadProbeAck(again));
        probe.Step(3, new ReadProbeAck(again));
        Assert.Equal(5, Assert.Single(probe.Reads).Id);
    }

    [Fact]
    public void A_follower_asks_its_leader_and_answers_only_once_it_has_applied_the_index()
    {
        var probe = new CoreProbe(2, [1, 2, 3]);
        probe.FollowLeaderOne(1, 3);
        probe.ReadIndex(11);
        Assert.Equal(11, Assert.Single(probe.SentTo<ReadIndexRequest>(1)).Id);

        var zxid = new Zxid(1, 1);
        probe.Step(1, new ReadIndexReply(11, zxid));
        Assert.True(probe.Reads.Count == 0, "the index is not applied here yet: no answer expected");
        probe.Step(1, new Proposal(new ConsensusTxn(zxid, new byte[] { 1 }), default));
        probe.Fsync();
        probe.Step(1, new Commit(zxid));
        Assert.Equal(new ReadIndexResult(11, zxid), Assert.Single(probe.Reads));
    }

    [Fact]
    public void A_follower_answers_its_leaders_probe_with_the_same_round_and_an_observer_does_not()
    {
        var follower = new CoreProbe(2, [1, 2, 3]);
        follower.FollowLeaderOne(1, 3);
        follower.Step(1, new ReadProbe(42));
        Assert.Equal(42, Assert.Single(follower.SentTo<ReadProbeAck>(1)).Round);
        follower.Step(3, new ReadProbe(43));   // not its leader
        Assert.Single(follower.SentTo<ReadProbeAck>(1));
        Assert.Empty(follower.SentTo<ReadProbeAck>(3));
    }

    [Fact]
    public void A_read_index_whose_answer_was_lost_fails_after_twice_syncLimit()
    {
        var probe = new CoreProbe(2, [1, 2, 3]);
        probe.FollowLeaderOne(1, 3);
        probe.ReadIndex(3);
        for (var i = 0; i < probe.Core.ReadTimeoutTicks; i++)
        {
            probe.Step(1, new Ping(default));   // the leader is alive, the answer just never comes
            probe.Tick();
        }
        Assert.Empty(probe.Reads);
        probe.Step(1, new Ping(default));
        probe.Tick();
        Assert.Equal(new ReadIndexResult(3, null), Assert.Single(probe.Reads));
        probe.Step(1, new ReadIndexReply(3, default));   // too late: nothing more
        Assert.Single(probe.Reads);
    }

    [Fact]
    public void A_learner_that_loses_its_leader_fails_its_outstanding_reads()
    {
        var probe = new CoreProbe(2, [1, 2, 3]);
        probe.FollowLeaderOne(1, 3);
        probe.ReadIndex(8);
        probe.Core.Disconnected(1);
        probe.Tick();
        Assert.Equal(new ReadIndexResult(8, null), Assert.Single(probe.Reads));
    }

    /// <summary>Leader 1 of five voters, established, with one txn committed by followers 2 and 3.</summary>
    private static CoreProbe LeaderOfFive(out Zxid committed)
    {
        var probe = new CoreProbe(1, [1, 2, 3, 4, 5]);
        probe.EstablishLeader(2, 3, 4, 5);
        committed = probe.Propose("a");
        probe.Fsync();
        probe.Step(2, new Ack(committed));
        probe.Step(3, new Ack(committed));
        Assert.Equal([committed], probe.Committed.ConvertAll(t => t.Zxid));
        probe.Sent.Clear();
        return probe;
    }
}
