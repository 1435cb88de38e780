using Zk.Embedded.Txns;
using Zk.Embedded.Api;
using Zk.Embedded.Consensus;

namespace Zk.Embedded.Tests.Consensus;

/// <summary>
/// DIFF, TRUNC or SNAP from the learner's last zxid against the leader's window, case by case as
/// <c>LearnerHandler.syncFollower</c> decides them (CONSENSUS-NOTES §3.5).
/// </summary>
public sealed class SyncPlannerTests
{
    // The leader's window: after (1,2) it holds (1,3) (1,4) (3,1) (3,2); epoch 2 never logged anything.
    private static LogWindow Window() => new(new Zxid(1, 2), [Txn(1, 3), Txn(1, 4), Txn(3, 1), Txn(3, 2)]);

    [Fact]
    public void A_learner_at_the_leaders_last_zxid_gets_an_empty_diff()
    {
        Assert.Equal(new SyncPlan(SyncKind.Diff, new Zxid(3, 2), 4), SyncPlanner.Plan(Window(), new Zxid(3, 2)));
    }

    [Fact]
    public void A_learner_holding_a_zxid_of_the_window_gets_a_diff_of_what_follows()
    {
        Assert.Equal(new SyncPlan(SyncKind.Diff, new Zxid(1, 4), 2), SyncPlanner.Plan(Window(), new Zxid(1, 4)));
        Assert.Equal(new SyncPlan(SyncKind.Diff, new Zxid(1, 2), 0), SyncPlanner.Plan(Window(), new Zxid(1, 2)));
    }

    [Fact]
    public void A_learner_beyond_the_leaders_last_zxid_is_truncated_to_it()
    {
        Assert.Equal(new SyncPlan(SyncKind.Trunc, new Zxid(3, 2), 4), SyncPlanner.Plan(Window(), new Zxid(3, 7)));
    }

    [Fact]
    public void A_learner_whose_divergent_zxid_crosses_an_epoch_gets_a_snapshot()
    {
        // (1,9) was never committed: the leader's next txn after (1,4) is (3,1), another epoch, so no TRUNC.
        Assert.Equal(SyncKind.Snap, SyncPlanner.Plan(Window(), new Zxid(1, 9)).Kind);
    }

    [Fact]
    public void A_learner_older_than_the_window_gets_a_snapshot()
    {
        Assert.Equal(SyncKind.Snap, SyncPlanner.Plan(Window(), new Zxid(1, 1)).Kind);
        Assert.Equal(SyncKind.Snap, SyncPlanner.Plan(Window(), default).Kind);
    }

    private static ConsensusTxn Txn(uint epoch, uint counter) => new(new Zxid(epoch, counter), new byte[] { (byte)counter });
}
