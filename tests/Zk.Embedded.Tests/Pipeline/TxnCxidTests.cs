using Zk.Embedded.Api;
using Zk.Embedded.Storage;
using Zk.Embedded.Tests.Storage;
using Zk.Embedded.Txns;
using Zk.Embedded.Wire.Client;

namespace Zk.Embedded.Tests.Pipeline;

/// <summary>
/// Every logged txn carries the session and cxid of the request that made it: an in-process session's own counter, the
/// wire client's xid, 0 for createSession as ZooKeeper submits it.
/// </summary>
public sealed class TxnCxidTests
{
    [Fact]
    public async Task Logged_txns_carry_the_cxid_of_the_in_process_or_wire_request_that_made_them()
    {
        using var dir = new TempDirectory();
        long inProcessId, wireId;
        await using (var peer = await ZkPeer.StartAsync(new ZkPeerOptions { DataDir = dir.Path, ClientPort = 0 }))
        {
            await using var zk = await peer.ConnectAsync();
            inProcessId = zk.SessionId;
            await zk.CreateAsync("/a", [1], Acl.OpenUnsafe, CreateMode.Persistent);
            await Assert.ThrowsAsync<ZkException>(async () => await zk.CreateAsync("/a", [1], Acl.OpenUnsafe, CreateMode.Persistent));
            await zk.SetDataAsync("/a", [2], -1);

            var endPoint = peer.ClientEndPoint!;
            await using var client = await ZkClient.ConnectAsync($"{endPoint.Address}:{endPoint.Port}");
            wireId = client.SessionId;
            await client.CreateAsync("/w", [1], Acl.OpenUnsafe, CreateMode.Persistent);
            await client.SetDataAsync("/w", [2], -1);
        }

        using var log = TxnLog.Open(dir.Path);
        var txns = log.ReadFrom(default).ToList();
        var inProcess = txns.Where(t => t.SessionId.Value == inProcessId).Select(t => (t.Op.GetType().Name, t.Cxid)).ToList();
        // cxid 2 was the failed create: no txn, but it used its number, as a client's xid does.
        Assert.Equal([("CreateSessionTxn", 0), ("CreateTxn", 1), ("SetDataTxn", 3)], inProcess.Take(3));
        var wire = txns.Where(t => t.SessionId.Value == wireId).ToList();
        Assert.True(wire.Count >= 3, $"expected createSession, create and setData of the wire session, got {wire.Count} txns");
        Assert.Equal(0, wire[0].Cxid);
        Assert.IsType<CreateSessionTxn>(wire[0].Op);
        Assert.True(wire[1].Cxid > 0 && wire[2].Cxid == wire[1].Cxid + 1, $"wire cxids {wire[1].Cxid}, {wire[2].Cxid}: expected the client's consecutive xids");
    }
}
