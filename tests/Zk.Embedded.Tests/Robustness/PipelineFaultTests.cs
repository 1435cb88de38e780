using Zk.Embedded.Api;
using Zk.Embedded.InProcess;
using Zk.Embedded.Processing;
using Zk.Embedded.Sessions;
using Zk.Embedded.Storage;
using Zk.Embedded.Tests.Support;
using Zk.Embedded.Tree;
using Zk.Embedded.Txns;

namespace Zk.Embedded.Tests.Robustness;

/// <summary>
/// The pipeline's fault rule: an exception while preparing one request fails that request alone with
/// MarshallingError (PrepRequestProcessor's catch-all) and takes no zxid; one while publishing a step is logged and
/// the loop goes on; a txn the log could not read back is never built.
/// </summary>
public sealed class PipelineFaultTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task A_request_that_throws_while_it_is_prepared_fails_alone_with_MarshallingError_and_takes_no_zxid()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await zk.CreateAsync("/a");
        var before = peer.Peer.LastZxid;

        // A multi without an op list cannot come from the API or the wire; here it stands for any bug in TxnBuilder.
        var reply = await SubmitAsync(peer.Peer, zk, new MultiRequest(null!));

        Assert.True(reply.Error == ZkErrorCode.MarshallingError, $"expected MarshallingError, got {reply.Error}");
        var stat = await zk.SetDataAsync("/a", [1]);
        Assert.True(stat.Mzxid == before + 1, $"the next write took zxid 0x{stat.Mzxid:x}, expected 0x{before + 1:x}: a failed request must take no zxid");
        await ZkTest.AssertServesAsync(zk);
    }

    [Fact]
    public async Task A_reply_target_that_throws_does_not_stop_the_pipeline_and_its_write_is_published()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        var session = ((InProcessSession)zk).Server;

        await peer.Peer.Core.Writes.SubmitAsync(new PendingWrite(session, new CreateRequest("/thrown", null, Acl.OpenUnsafe, CreateMode.Persistent, -1, false), new ThrowingTarget()));

        await ZkTest.AssertServesAsync(zk);
        Assert.NotNull(await zk.ExistsAsync("/thrown"));
        Assert.Null(peer.Peer.Core.Pipeline.NotServing);
    }

    [Fact]
    public void A_txn_with_a_null_string_is_named_before_it_is_logged_and_refused_by_the_codec()
    {
        var nullId = new AclList([new Acl(Perms.All, new Id("super", null!))]);
        TxnOp[] bad = [new CreateTxn("/s", null, nullId, 0, 1), new SetAclTxn("/s", nullId, 1), new DeleteTxn(null!), new MultiTxn([new CheckTxn(null!)])];
        foreach (var op in bad)
        {
            Assert.True(TxnChecks.Unencodable(op) is not null, $"{op} should be found unencodable");
            Assert.Throws<InvalidOperationException>(() => TxnCodec.Encode(new Txn(new Zxid(1), new SessionId(1), 1, op)));
        }

        Assert.Null(TxnChecks.Unencodable(new CreateTxn("/s", null, AclList.Open, 0, 1)));
    }

    [Fact]
    public async Task A_request_larger_than_a_client_port_frame_is_refused_with_BadArguments_and_the_peer_keeps_serving()
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        var half = new byte[512 * 1024];

        var refused = await ZkTest.ThrowsAsync(ZkErrorCode.BadArguments, async () => await zk.MultiAsync(
            [Op.Create("/m1", half, Acl.OpenUnsafe, CreateMode.Persistent), Op.Create("/m2", half, Acl.OpenUnsafe, CreateMode.Persistent), Op.Create("/m3", half, Acl.OpenUnsafe, CreateMode.Persistent)]));
        Assert.Contains("jute.maxbuffer", refused.Message);
        Assert.Null(await zk.ExistsAsync("/m1"));

        // The pipeline holds the same bound for what reaches it by another way: an ACL list of 1.5 MB.
        var manyEntries = Enumerable.Range(0, 60_000).Select(_ => new Acl(Perms.All, Id.Anyone)).ToArray();
        await ZkTest.ThrowsAsync(ZkErrorCode.BadArguments, async () => await zk.CreateAsync("/acl", null, manyEntries, CreateMode.Persistent));

        var fits = new byte[400 * 1024];
        await zk.MultiAsync([Op.Create("/f1", fits, Acl.OpenUnsafe, CreateMode.Persistent), Op.Create("/f2", fits, Acl.OpenUnsafe, CreateMode.Persistent)]);
        await ZkTest.AssertServesAsync(zk);
    }

    private static async Task<Reply> SubmitAsync(ZkPeer peer, IZooKeeper zk, PipelineRequest request)
    {
        var target = new CapturingTarget();
        await peer.Core.Writes.SubmitAsync(new PendingWrite(((InProcessSession)zk).Server, request, target));
        return await target.Reply.WaitAsync(Deadline);
    }

    private sealed class CapturingTarget : IReplyTarget
    {
        private readonly TaskCompletionSource<Reply> _reply = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<Reply> Reply => _reply.Task;

        public void Complete(in Reply reply) => _reply.TrySetResult(reply);
    }

    private sealed class ThrowingTarget : IReplyTarget
    {
        public void Complete(in Reply reply) => throw new InvalidOperationException("a reply target that fails");
    }
}
