namespace Zk.Embedded.Processing;

/// <summary>
/// Where every write of a peer enters the pipeline: in-process sessions, wire connections and the peer's own timers
/// (expiry, container clean-up) all submit here. Standalone and on the leader it is the local pipeline
/// (<see cref="RequestProcessor"/>); a follower will swap in one that forwards to the leader, while the publisher
/// answers the caller when the committed txn comes back, by (SessionId, Cxid).
/// </summary>
internal interface IWriteSubmitter
{
    /// <summary>Queues a request; waits while the queue is full. Fails with ConnectionLoss once writes have stopped.</summary>
    ValueTask SubmitAsync(PendingWrite write, CancellationToken cancellationToken = default);

    /// <summary>Queues a request of the peer's own (expiry, container clean-up) without waiting for room.</summary>
    void Post(PendingWrite write);
}
