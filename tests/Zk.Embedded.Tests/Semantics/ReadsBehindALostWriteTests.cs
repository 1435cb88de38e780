using Zk.Embedded.Api;
using Zk.Embedded.InProcess;
using Zk.Embedded.Processing;
using Zk.Embedded.Tree;

namespace Zk.Embedded.Tests.Semantics;

/// <summary>
/// A session's reads wait behind its write (per-session FIFO). When that write is lost with the connection
/// (ConnectionLoss: its member stopped serving, or the answer to its forwarded write never came), the reads behind it
/// fail with ConnectionLoss too, as the requests behind a write on a closed ZooKeeper connection do; before, they were
/// answered from the member's state as if it still served. Other write errors leave the reads to run as usual.
/// </summary>
public sealed class ReadsBehindALostWriteTests
{
    [Theory]
    [InlineData(ZkErrorCode.ConnectionLoss, ZkErrorCode.ConnectionLoss)]
    [InlineData(ZkErrorCode.BadVersion, ZkErrorCode.Ok)]
    [InlineData(ZkErrorCode.Ok, ZkErrorCode.Ok)]
    public async Task A_read_queued_behind_a_write_shares_its_connection_loss_and_only_that(ZkErrorCode write, ZkErrorCode expectedRead)
    {
        var state = TreeState.CreateInitial();
        var outbox = new SessionOutbox((_, _) => { }, _ => { }, () => state, () => state);
        var slot = outbox.BeginWrite();
        var read = outbox.EnqueueRead(s => new ReadOutcome(new Reply(ZkErrorCode.Ok, null, "read", s.Zxid, s), null));
        Assert.False(read.IsCompleted, "expected the read to wait for the session's write");

        slot.Complete(new Reply(write, "/w", null, state.Zxid, state));
        Assert.Equal(write, (await slot.AsValueTask()).Error);
        var reply = await read.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(reply.Error == expectedRead, $"expected the read behind a write answered {write} to be {expectedRead}, it was {reply.Error}");
    }
}
