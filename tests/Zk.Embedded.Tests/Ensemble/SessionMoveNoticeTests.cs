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
/// A session moved to a learner whose notice to the leader was lost (the transport may lose any message): the
/// learner's next activity report, once the session's client is heard from there, tells the leader again, so its
/// writes through the learner stop failing with SessionMoved. Before, only the one notice at the move did, and a lost
/// one left every later write of the session through that member refused until the leader changed (found by the
/// simulator's scenario runs that move sessions). Two <see cref="GlobalSessions"/> are wired directly: a leader and a
/// learner whose messages to it are delivered or dropped by the test; a session's sink stands for its client's
/// connection on a member.
/// </summary>
public sealed class SessionMoveNoticeTests
{
    private static readonly SessionId Session = new(0x42);

    [Fact]
    public void A_lost_notice_of_a_move_is_repeated_by_the_next_activity_report_of_the_member_the_client_is_on()
    {
        var leader = new Member(1, leads: true);
        var learner = new Member(2, leads: false) { Leader = leader };
        Assert.Null(leader.Sessions.MovedFrom(Session, 1));   // created through the leader: it owns the session

        learner.Dropping = true;
        var moved = learner.Sessions.Reattach(Session, learner.Tracker.PasswordFor(Session), default);
        moved.Sink = new Connection();   // the client's connection on the learner
        learner.Dropping = false;
        Assert.Equal(1, leader.Sessions.MovedFrom(Session, 2));   // the notice was lost: writes through the learner are refused

        learner.Time.Advance(TimeSpan.FromMilliseconds(100));
        learner.Tracker.Touch(moved);   // the client is heard from on the learner
        learner.Sessions.OnTick();
        Assert.True(leader.Sessions.MovedFrom(Session, 2) is null,
            $"expected the learner's activity report to make it the session's owner again, the leader still names server {leader.Sessions.MovedFrom(Session, 2)}");
    }

    [Fact]
    public void A_member_whose_connection_of_a_moved_session_closed_does_not_claim_it_again()
    {
        var leader = new Member(1, leads: true);
        var first = new Member(2, leads: false) { Leader = leader };
        var second = new Member(3, leads: false) { Leader = leader };
        var there = first.Sessions.Reattach(Session, first.Tracker.PasswordFor(Session), default);
        var connection = new Connection();
        there.Sink = connection;
        first.Time.Advance(TimeSpan.FromMilliseconds(100));
        first.Tracker.Touch(there);   // heard from on the first member just before the client moved on

        there.Sink = null;   // the client closed that connection and moved
        second.Sessions.Reattach(Session, second.Tracker.PasswordFor(Session), default).Sink = new Connection();
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
        second.Sessions.Reattach(Session, second.Tracker.PasswordFor(Session), default);
        Assert.Null(leader.Sessions.MovedFrom(Session, 3));

        first.Sessions.OnTick();   // the late report of the member the client left
        Assert.True(leader.Sessions.MovedFrom(Session, 3) is null, "expected the session to stay with the member it moved to");
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
        public Member? Leader { get; init; }
        public bool Dropping { get; set; }

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

        /// <summary>To the leader's GlobalSessions, as its forwarder hands it session activity; or lost.</summary>
        public bool SendTraffic(int to, ClientTraffic message)
        {
            Assert.Equal(1, to);
            if (!Dropping && message is SessionActivity activity)
                Leader!.Sessions.OnActivity(Id, activity);
            return true;
        }

        public ValueTask SubmitAsync(PendingWrite write, CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public void Post(PendingWrite write) => throw new NotSupportedException();
    }
}
