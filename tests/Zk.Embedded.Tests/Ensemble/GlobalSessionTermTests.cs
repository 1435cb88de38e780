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
/// <see cref="GlobalSessions"/> across leader terms, on a member it is given directly (its driver's status and its
/// tree's writes as plain values): an expiry whose closeSession was lost with the term that proposed it is tried
/// again in a later term, and its session can still be reattached meanwhile.
/// </summary>
public sealed class GlobalSessionTermTests
{
    private const int TimeoutMillis = 1_000;
    private static readonly SessionId Session = new(0x42);

    [Fact]
    public void A_session_whose_expiry_was_lost_with_a_term_is_expired_again_when_the_member_leads_again()
    {
        var member = Member.ExpiringInItsFirstTerm();
        Assert.Equal([Session], member.Closes);   // the first term's expiry, whose txn never commits

        member.Follow();   // the term ends: its pipeline failed the close
        member.Lead();     // a later term of the same member
        member.SilentForTwoTimeouts();
        Assert.True(member.Closes.Count == 2, $"expected the session, still in the tree, to be expired again in the new term; closes posted: {member.Closes.Count}");
    }

    [Fact]
    public void A_session_whose_expiry_was_lost_with_a_term_can_be_reattached_on_the_former_leader()
    {
        var member = Member.ExpiringInItsFirstTerm();
        member.Follow();

        var session = member.Sessions.Reattach(Session, member.Tracker.PasswordFor(Session), default);
        Assert.Equal(Session, session?.SessionId);
    }

    private sealed class Member : IConsensusView, IReplicaView, IWriteSubmitter
    {
        private ConsensusDriver.Status _status = new(ServerState.Looking, null, null, false, ZabPhase.Election, default);
        private uint _epoch;

        public Member()
        {
            Tracker = new SessionTracker(Time, 1, SessionTracker.EnsembleSecret);
            State = TxnApplier.Apply(TreeState.CreateInitial(), new Txn(new Zxid(1, 1), Session, 0, new CreateSessionTxn(TimeoutMillis)), null);
            Sessions = new GlobalSessions(this, this, Tracker, Time, NullLogger.Instance);
        }

        public FakeTimeProvider Time { get; } = new();
        public SessionTracker Tracker { get; }
        public GlobalSessions Sessions { get; }
        public List<SessionId> Closes { get; } = [];

        public int Id => 1;
        public ConsensusDriver.Status Current => _status;
        public event Action<RoleChange>? RoleChanged;
        public event Action<int, ClientTraffic>? TrafficReceived { add { } remove { } }   // GlobalSessions hears no traffic here
        public event Action<int>? PeerDisconnected { add { } remove { } }
        public TreeState State { get; }
        public Publisher Follower => throw new NotSupportedException("GlobalSessions publishes nothing");
        public IWriteSubmitter? Writes => _status.State == ServerState.Leading ? this : null;

        /// <summary>A member that leads, with the session silent past its timeout: its GlobalSessions posts the close.</summary>
        public static Member ExpiringInItsFirstTerm()
        {
            var member = new Member();
            member.Lead();
            member.SilentForTwoTimeouts();
            return member;
        }

        public void SilentForTwoTimeouts()
        {
            Time.Advance(TimeSpan.FromMilliseconds(2 * TimeoutMillis));
            Sessions.OnTick();
        }

        public void Lead() => Change(new ConsensusDriver.Status(ServerState.Leading, 1, ++_epoch, true, ZabPhase.Broadcast, default));

        public void Follow() => Change(new ConsensusDriver.Status(ServerState.Following, 2, null, true, ZabPhase.Broadcast, default));

        public bool Run(Action action)
        {
            action();
            return true;
        }

        public bool SendTraffic(int to, ClientTraffic message) => true;

        public ValueTask SubmitAsync(PendingWrite write, CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public void Post(PendingWrite write)
        {
            Assert.IsType<CloseSessionRequest>(write.Request);
            Closes.Add(write.Session.SessionId);
        }

        private void Change(ConsensusDriver.Status status)
        {
            _status = status;
            RoleChanged?.Invoke(new RoleChange(status.State, status.Phase, _epoch, "test"));
        }
    }
}
