using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Zk.Embedded.Api;
using Zk.Embedded.Consensus;
using Zk.Embedded.Ensemble;
using Zk.Embedded.Processing;
using Zk.Embedded.Sessions;
using Zk.Embedded.Tree;
using Zk.Embedded.Txns;

namespace Zk.Embedded.Tests.Ensemble;

/// <summary>
/// Moving a session between members: a learner's claim of a session attached to it (REVALIDATE) is repeated every
/// tick until the leader answers, so a lost one does not leave every later write of the session through that member
/// refused with SessionMoved (found by the simulator's scenario runs that move sessions); a late repeat of a claim the
/// leader let go does not take the session back; a claim that reached the leader after its client had moved on is
/// undone by the member the client is on. <see cref="GlobalSessions"/> are wired directly: a leader and learners whose
/// messages are delivered, dropped or held by the test; a session's sink stands for its client's connection on a
/// member.
/// </summary>
public sealed class SessionMoveNoticeTests
{
    private static readonly SessionId Session = new(0x42);

    [Fact]
    public void A_lost_claim_of_a_moved_session_is_repeated_at_the_next_tick_of_the_member_the_client_is_on()
    {
        var leader = new Member(1, leads: true);
        var learner = new Member(2, leads: false) { Leader = leader };
        var moved = AttachedWithItsClaimLost(leader, learner);

        learner.Time.Advance(TimeSpan.FromMilliseconds(100));
        learner.Tracker.Touch(moved);   // the client is heard from on the learner
        learner.Sessions.OnTick();   // the unanswered claim is repeated
        Assert.True(leader.Sessions.MovedFrom(Session, 2) is null,
            $"expected the learner's repeated claim to make it the session's owner again, the leader still names server {leader.Sessions.MovedFrom(Session, 2)}");
    }

    [Fact]
    public void A_lost_claim_goes_again_with_the_next_write_of_the_session_and_once_answered_no_more()
    {
        var leader = new Member(1, leads: true);
        var learner = new Member(2, leads: false) { Leader = leader };
        AttachedWithItsClaimLost(leader, learner);

        // What the forwarder sends ahead of a write of the session through the learner, before the next tick.
        var claim = learner.Sessions.UnansweredClaim(Session);
        Assert.True(claim is not null, "expected the learner's unanswered claim to go with the write");
        learner.SendTraffic(1, claim);
        Assert.True(leader.Sessions.MovedFrom(Session, 2) is null,
            $"expected the claim sent with the write to make the learner the owner, the leader still names server {leader.Sessions.MovedFrom(Session, 2)}");
        Assert.True(learner.Sessions.UnansweredClaim(Session) is null, "expected no claim with later writes once the leader answered it held");
    }

    [Fact]
    public void A_reattach_to_a_learner_waits_until_the_leader_has_answered_its_claim()
    {
        var leader = new Member(1, leads: true);
        var learner = new Member(2, leads: false) { Leader = leader };
        learner.Holding = true;
        learner.Reattach();
        var answered = learner.Sessions.ClaimAnswered(Session);
        Assert.False(answered.IsCompleted, "expected the reattach to wait while its claim is on the way to the leader");

        learner.DeliverNext();   // the claim; the leader's answer comes straight back
        Assert.True(answered.IsCompleted, "expected the leader's answer to end the reattach's wait");
        Assert.True(leader.Sessions.MovedFrom(Session, 2) is null,
            $"expected the leader to give the session to the learner before the learner answers its client, it names server {leader.Sessions.MovedFrom(Session, 2)}");
    }

    [Fact]
    public void A_reattach_to_the_leader_waits_for_nothing_nor_does_a_learner_that_never_claimed_the_session()
    {
        var leader = new Member(1, leads: true);
        var learner = new Member(2, leads: false) { Leader = leader };
        leader.Reattach();
        Assert.True(leader.Sessions.ClaimAnswered(Session).IsCompleted, "expected the leader, which takes the session over itself, not to wait");
        Assert.True(learner.Sessions.ClaimAnswered(Session).IsCompleted, "expected nothing to wait for on a learner that never claimed the session");
    }

    [Fact]
    public void A_member_whose_connection_of_a_moved_session_closed_does_not_claim_it_again()
    {
        var leader = new Member(1, leads: true);
        var first = new Member(2, leads: false) { Leader = leader };
        var second = new Member(3, leads: false) { Leader = leader };
        var there = first.Reattach();
        var connection = new Connection();
        there.Sink = connection;
        first.Time.Advance(TimeSpan.FromMilliseconds(100));
        first.Tracker.Touch(there);   // heard from on the first member just before the client moved on

        there.Sink = null;   // the client closed that connection and moved
        second.Reattach().Sink = new Connection();
        first.Sessions.OnTick();   // the first member's report covers the time before the move
        Assert.True(leader.Sessions.MovedFrom(Session, 3) is null, "expected a member whose connection of the session closed not to claim it back");
    }

    [Fact]
    public void A_late_report_from_the_member_a_session_was_created_on_does_not_take_a_moved_session_back()
    {
        var leader = new Member(1, leads: true);
        var first = new Member(2, leads: false) { Leader = leader };
        var second = new Member(3, leads: false) { Leader = leader };
        Assert.True(first.Tracker.TryGet(Session, out var created));
        first.Time.Advance(TimeSpan.FromMilliseconds(100));
        first.Tracker.Touch(created);   // heard from on the first member, reported only after the move
        second.Reattach();
        Assert.Null(leader.Sessions.MovedFrom(Session, 3));

        first.Sessions.OnTick();   // the late report of the member the client left
        Assert.True(leader.Sessions.MovedFrom(Session, 3) is null, "expected the session to stay with the member it moved to");
    }

    [Fact]
    public void A_late_repeat_of_a_claim_the_leader_let_go_does_not_take_the_session_back()
    {
        // The old member repeated its claim with every report; one sent just before its client moved and delivered
        // after the new member's claim handed the session back until the new member's next report.
        var leader = new Member(1, leads: true);
        var first = new Member(2, leads: false) { Leader = leader };
        var second = new Member(3, leads: false) { Leader = leader };
        var there = ClaimedWithARepeatOnTheWay(first);
        Assert.Null(leader.Sessions.MovedFrom(Session, 2));

        there.Sink = null;   // the client leaves, its repeat still on the way
        second.Reattach().Sink = new Connection();
        Assert.Null(leader.Sessions.MovedFrom(Session, 3));
        first.DeliverNext();
        first.DeliverNext();   // the repeat, sent before the move, arrives after the new member's claim
        Assert.True(leader.Sessions.MovedFrom(Session, 3) is null,
            $"expected the session to stay with the member its client moved to, the leader names server {leader.Sessions.MovedFrom(Session, 3)}");
    }

    [Fact]
    public void A_repeat_later_than_the_leader_remembers_let_go_claims_is_undone_by_the_member_the_client_is_on_at_once()
    {
        var leader = new Member(1, leads: true);
        var first = new Member(2, leads: false) { Leader = leader };
        var second = new Member(3, leads: false) { Leader = leader };
        var there = ClaimedWithARepeatOnTheWay(first);
        there.Sink = null;
        second.Reattach().Sink = new Connection();

        for (var i = 0; i <= GlobalSessions.LetGoTicks; i++)
            leader.Sessions.OnTick();   // the leader forgets the first member's let-go claim
        first.DeliverNext();
        second.Holding = true;
        first.DeliverNext();   // the repeat, held in a link's queue all that time: the leader tells the second member
        Assert.Equal(2, leader.Sessions.MovedFrom(Session, 3));
        second.Holding = false;
        second.DeliverNext();   // told its claim was replaced, its client still there: it claimed again at once
        Assert.True(leader.Sessions.MovedFrom(Session, 3) is null,
            $"expected the member the client is on to take the session back with no tick in between, the leader names server {leader.Sessions.MovedFrom(Session, 3)}");
    }

    [Fact]
    public void A_claim_that_arrives_after_its_client_moved_on_is_undone_by_the_member_the_client_is_on()
    {
        var leader = new Member(1, leads: true);
        var first = new Member(2, leads: false) { Leader = leader };
        var second = new Member(3, leads: false) { Leader = leader };
        first.Holding = true;
        var there = first.Reattach();   // its claim is slow
        there.Sink = null;   // the client moves on before the claim arrives
        var here = second.Reattach();
        here.Sink = new Connection();
        Assert.Null(leader.Sessions.MovedFrom(Session, 3));

        first.Holding = false;
        second.Holding = true;
        first.DeliverNext();   // never let go (the leader had not seen it), so it takes the session: the leader tells the second member
        Assert.Equal(2, leader.Sessions.MovedFrom(Session, 3));
        second.Holding = false;
        second.DeliverNext();   // its client is still there: it claimed again at once, with no tick in between
        Assert.True(leader.Sessions.MovedFrom(Session, 3) is null,
            $"expected the member the client is on to take the session back with no tick in between, the leader names server {leader.Sessions.MovedFrom(Session, 3)}");
        first.Time.Advance(TimeSpan.FromMilliseconds(100));
        first.Sessions.OnTick();   // told its claim was let go, with no client there: it does not claim again
        Assert.Null(leader.Sessions.MovedFrom(Session, 3));
    }

    [Fact]
    public void A_claim_that_arrives_after_its_client_moved_on_to_the_leader_is_undone_by_the_leader_at_once()
    {
        var leader = new Member(1, leads: true);
        var first = new Member(2, leads: false) { Leader = leader };
        first.Holding = true;
        var there = first.Reattach();   // its claim is slow
        there.Sink = null;   // the client moves on to the leader before the claim arrives
        leader.Reattach().Sink = new Connection();
        Assert.Null(leader.Sessions.MovedFrom(Session, 1));

        first.Holding = false;
        first.DeliverNext();   // never let go, so it takes the session from the leader, whose client is still there
        Assert.True(leader.Sessions.MovedFrom(Session, 1) is null,
            $"expected the leader to take its client's session back at once, it names server {leader.Sessions.MovedFrom(Session, 1)}");
        first.Time.Advance(TimeSpan.FromMilliseconds(100));
        first.Sessions.OnTick();   // told its claim was let go, with no client there: it does not claim again
        Assert.Null(leader.Sessions.MovedFrom(Session, 1));
    }

    [Fact]
    public void Two_members_that_both_hold_a_connection_of_a_session_claim_it_again_at_once_only_once_a_tick()
    {
        var leader = new Member(1, leads: true);
        var first = new Member(2, leads: false) { Leader = leader, Holding = true };
        var second = new Member(3, leads: false) { Leader = leader, Holding = true };
        first.Reattach().Sink = new Connection();
        second.Reattach().Sink = new Connection();

        // A connection left open on the member the client left (a half-open TCP connection, say) and the one it is
        // on: each claim replaces the other's, and each member is told and claims again.
        var delivered = 0;
        while ((first.InFlight.Count > 0 || second.InFlight.Count > 0) && delivered < 20)
        {
            foreach (var member in new[] { first, second })
            {
                if (member.InFlight.Count > 0)
                {
                    member.DeliverNext();
                    delivered++;
                }
            }
        }

        Assert.True(delivered <= 4, $"expected the claims to stop after each member claimed again once in the tick, {delivered} were delivered");
        first.Time.Advance(TimeSpan.FromMilliseconds(100));
        first.Sessions.OnTick();   // the next tick repeats the unanswered claim: they take turns once a tick
        Assert.Contains(first.InFlight, m => m.Message is SessionClaim);
    }

    /// <summary>
    /// The session, created through <paramref name="leader"/>, is attached to <paramref name="learner"/> (its client's
    /// connection there), whose claim is lost: writes through the learner are refused until the leader hears a claim.
    /// </summary>
    private static ServerSession AttachedWithItsClaimLost(Member leader, Member learner)
    {
        Assert.Null(leader.Sessions.MovedFrom(Session, leader.Id));   // created through the leader: it owns the session
        learner.Dropping = true;
        var moved = learner.Reattach();
        moved.Sink = new Connection();
        learner.Dropping = false;
        Assert.Equal(leader.Id, leader.Sessions.MovedFrom(Session, learner.Id));
        return moved;
    }

    /// <summary>
    /// The session's client attaches to <paramref name="member"/>, whose claim goes unanswered for a tick and is
    /// repeated (after the activity report); the first claim arrives, the repeat is still on the way.
    /// </summary>
    private static ServerSession ClaimedWithARepeatOnTheWay(Member member)
    {
        member.Holding = true;
        var there = member.Reattach();
        there.Sink = new Connection();
        member.Time.Advance(TimeSpan.FromMilliseconds(100));
        member.Sessions.OnTick();
        Assert.Equal(["SessionClaim", "SessionActivity", "SessionClaim"], member.InFlight.Select(m => m.Message.GetType().Name));
        member.Holding = false;
        member.DeliverNext();
        return there;
    }

    /// <summary>A client connection's end of a session on a member (what it is told does not matter here).</summary>
    private sealed class Connection : ISessionSink
    {
        public void OnWatchEvent(WatchedEvent watchedEvent)
        {
        }

        public void OnSessionEnded(KeeperState state)
        {
        }

        public void OnDetached()
        {
        }
    }

    private sealed class Member : IConsensusView, IReplicaView, IWriteSubmitter
    {
        private readonly bool _leads;
        private readonly Dictionary<int, Member> _learners = [];
        private readonly Member? _leader;

        public Member(int id, bool leads)
        {
            (Id, _leads) = (id, leads);
            Tracker = new SessionTracker(Time, id, SessionTracker.EnsembleSecret);
            Tracker.Add(new ServerSession(Session, Tracker.PasswordFor(Session), 30_000, SessionTracker.LocalIds));
            State = TxnApplier.Apply(TreeState.CreateInitial(), new Txn(new Zxid(1, 1), Session, 0, new CreateSessionTxn(30_000)), null);
            Sessions = new GlobalSessions(this, this, Tracker, Time, NullLogger.Instance);
        }

        public FakeTimeProvider Time { get; } = new();
        public SessionTracker Tracker { get; }
        public GlobalSessions Sessions { get; }

        /// <summary>The session's client reattaches here (every member's tree holds the session).</summary>
        public ServerSession Reattach() =>
            Sessions.Reattach(Session, Tracker.PasswordFor(Session), default) ?? throw new InvalidOperationException($"expected server {Id} to know session {Session}");

        /// <summary>The leader this learner sends to; setting it makes the leader's answers reach this member.</summary>
        public Member? Leader
        {
            get => _leader;
            init
            {
                _leader = value;
                value!._learners[Id] = this;
            }
        }

        /// <summary>What this member sends is lost.</summary>
        public bool Dropping { get; set; }

        /// <summary>What this member sends waits in <see cref="InFlight"/> until <see cref="DeliverNext"/>.</summary>
        public bool Holding { get; set; }

        public Queue<(int To, ClientTraffic Message)> InFlight { get; } = new();

        /// <summary>Delivers the oldest message this member sent while holding.</summary>
        public void DeliverNext()
        {
            var (to, message) = InFlight.Dequeue();
            Deliver(to, message);
        }

        public int Id { get; }
        public ConsensusDriver.Status Current => new(_leads ? ServerState.Leading : ServerState.Following, 1, 1, true, ZabPhase.Broadcast, default);
        public event Action<RoleChange>? RoleChanged { add { } remove { } }
        public event Action<int, ClientTraffic>? TrafficReceived { add { } remove { } }
        public event Action<int>? PeerDisconnected { add { } remove { } }
        public TreeState State { get; }
        public Publisher Follower => throw new NotSupportedException("GlobalSessions publishes nothing");
        public IWriteSubmitter? Writes => _leads ? this : null;

        public bool Run(Action action)
        {
            action();
            return true;
        }

        /// <summary>To the other member's GlobalSessions, as its forwarder hands it session traffic; or lost, or held.</summary>
        public bool SendTraffic(int to, ClientTraffic message)
        {
            if (Dropping)
                return true;
            if (Holding)
                InFlight.Enqueue((to, message));
            else
                Deliver(to, message);
            return true;
        }

        private void Deliver(int to, ClientTraffic message)
        {
            var target = _leads ? _learners[to] : _leader!;
            Assert.Equal(to, target.Id);
            switch (message)
            {
                case SessionActivity activity:
                    target.Sessions.OnActivity(activity);
                    break;
                case SessionClaim claim:
                    target.Sessions.OnClaim(Id, claim);
                    break;
                case SessionClaimAck answer:
                    target.Sessions.OnClaimAnswer(answer);
                    break;
            }
        }

        public ValueTask SubmitAsync(PendingWrite write, CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public void Post(PendingWrite write) => throw new NotSupportedException();
    }
}
