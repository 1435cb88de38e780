namespace Zk.Embedded.Processing;

/// <summary>Receives the reply to one pipeline request.</summary>
internal interface IReplyTarget
{
    void Complete(in Reply reply);
}

/// <summary>
/// A reply target on another member: a learner's forwarded request, which the learner answers itself in its session's
/// order against the COMMITs it receives. The proposer gives it an answer without a txn as soon as it decides it,
/// before the batch's proposals go out (<see cref="RequestProcessor"/>), so the answer reaches the learner ahead of
/// every later txn of the session (ZooKeeper puts such answers in the commit stream itself, as error txns).
/// <see cref="IReplyTarget.Complete"/> comes later as for any request and must not answer again.
/// </summary>
internal interface IRemoteReplyTarget : IReplyTarget
{
    void Decided(in Reply reply);
}
