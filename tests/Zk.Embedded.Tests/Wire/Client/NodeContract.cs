using System.Text;
using Zk.Embedded.Api;
using Zk.Embedded.Tests.Support;

namespace Zk.Embedded.Tests.Wire.Client;

/// <summary>
/// What every <see cref="IZooKeeper"/> does with znodes, written once and run against the in-process session, the wire
/// client on our peer, and the wire client on Apache ZooKeeper. Each test works under its own root.
/// </summary>
public abstract class NodeContract(IZkServer server)
{
    protected IZkServer Server { get; } = server;

    protected string Root { get; } = "/contract-" + Guid.NewGuid().ToString("N")[..12];

    [SkippableFact]
    public async Task Create_get_set_and_delete_go_through_with_versions()
    {
        await using var zk = await Server.ConnectAsync();
        Assert.Equal(Root, await zk.CreateAsync(Root, "v0"u8.ToArray(), Acl.OpenUnsafe, CreateMode.Persistent));
        var read = await zk.GetDataAsync(Root);
        Assert.Equal("v0", Encoding.UTF8.GetString(read.Data.Span));
        Assert.Equal(0, read.Stat.Version);

        var stat = await zk.SetDataAsync(Root, "v1"u8.ToArray(), version: 0);
        Assert.Equal(1, stat.Version);
        Assert.Equal("v1", Encoding.UTF8.GetString((await zk.GetDataAsync(Root)).Data.Span));

        await zk.DeleteAsync(Root, version: 1);
        Assert.Null(await zk.ExistsAsync(Root));
    }

    [SkippableFact]
    public async Task LastZxidSeen_reaches_each_write_and_never_goes_back()
    {
        await using var zk = await Server.ConnectAsync();
        await zk.CreateAsync(Root, [], Acl.OpenUnsafe, CreateMode.Persistent);
        var created = (await zk.ExistsAsync(Root))!.Value.Mzxid;
        Assert.True(zk.LastZxidSeen >= created, $"expected at least the create's zxid 0x{created:x}, saw 0x{zk.LastZxidSeen:x}");
        var before = zk.LastZxidSeen;
        var stat = await zk.SetDataAsync(Root, [1], -1);
        Assert.True(zk.LastZxidSeen >= stat.Mzxid && stat.Mzxid > before, $"expected the set's zxid 0x{stat.Mzxid:x} (after 0x{before:x}) seen, saw 0x{zk.LastZxidSeen:x}");
        var afterSet = zk.LastZxidSeen;
        await zk.GetDataAsync(Root);
        Assert.True(zk.LastZxidSeen >= afterSet, $"a read must not take LastZxidSeen back from 0x{afterSet:x}, it is 0x{zk.LastZxidSeen:x}");
    }

    [SkippableFact]
    public async Task Null_data_reads_back_as_null_and_empty_data_as_empty()
    {
        await using var zk = await Server.ConnectAsync();
        await zk.CreateAsync(Root, null, Acl.OpenUnsafe, CreateMode.Persistent);
        await zk.CreateAsync(Root + "/empty", [], Acl.OpenUnsafe, CreateMode.Persistent);
        var none = await zk.GetDataAsync(Root);
        var empty = await zk.GetDataAsync(Root + "/empty");
        Assert.True(none.DataIsNull, "data created as null should read back as null");
        Assert.True(none.Data.IsEmpty);
        Assert.False(empty.DataIsNull, "empty data should read back as empty, not null");
        Assert.True(empty.Data.IsEmpty);

        var results = await zk.MultiReadAsync([Op.GetData(Root), Op.GetData(Root + "/empty")]);
        Assert.True(Assert.IsType<GetDataResult>(results[0]).DataIsNull, "multiRead: null data should read back as null");
        Assert.False(Assert.IsType<GetDataResult>(results[1]).DataIsNull, "multiRead: empty data should read back as empty");

        await zk.SetDataAsync(Root + "/empty", null);
        Assert.True((await zk.GetDataAsync(Root + "/empty")).DataIsNull, "data set to null should read back as null");
    }

    [SkippableFact]
    public async Task Errors_carry_ZooKeeper_codes()
    {
        await using var zk = await Server.ConnectAsync();
        await ZkTest.ThrowsAsync(ZkErrorCode.NoNode, async () => await zk.GetDataAsync(Root));
        await ZkTest.ThrowsAsync(ZkErrorCode.NoNode, async () => await zk.SetDataAsync(Root, null));
        await ZkTest.ThrowsAsync(ZkErrorCode.NoNode, async () => await zk.DeleteAsync(Root));
        await ZkTest.ThrowsAsync(ZkErrorCode.NoNode, async () => await zk.CreateAsync(Root + "/a/b"));

        await zk.CreateAsync(Root);
        await ZkTest.ThrowsAsync(ZkErrorCode.NodeExists, async () => await zk.CreateAsync(Root));
        await ZkTest.ThrowsAsync(ZkErrorCode.BadVersion, async () => await zk.SetDataAsync(Root, null, version: 5));
        await ZkTest.ThrowsAsync(ZkErrorCode.BadVersion, async () => await zk.DeleteAsync(Root, version: 5));

        await zk.CreateAsync(Root + "/child");
        var e = await ZkTest.ThrowsAsync(ZkErrorCode.NotEmpty, async () => await zk.DeleteAsync(Root));
        Assert.Equal(Root, e.Path);
        Assert.Null(await zk.ExistsAsync(Root + "/missing"));
    }

    [SkippableFact]
    public async Task Sequential_nodes_get_increasing_ten_digit_suffixes()
    {
        await using var zk = await Server.ConnectAsync();
        await zk.CreateAsync(Root);
        var first = await zk.CreateAsync(Root + "/s-", CreateMode.PersistentSequential);
        var second = await zk.CreateAsync(Root + "/s-", CreateMode.EphemeralSequential);
        Assert.Equal(Root + "/s-0000000000", first);
        Assert.Equal(Root + "/s-0000000001", second);
        var created = await zk.CreateWithStatAsync(Root + "/s-", null, Acl.OpenUnsafe, CreateMode.PersistentSequential);
        Assert.Equal(Root + "/s-0000000002", created.Path);
        Assert.Equal(0, created.Stat.Version);
    }

    [SkippableFact]
    public async Task Ephemerals_belong_to_their_session_and_go_when_it_closes()
    {
        await using var observer = await Server.ConnectAsync();
        await observer.CreateAsync(Root);
        var owner = await Server.ConnectAsync();
        await owner.CreateAsync(Root + "/e", CreateMode.Ephemeral);
        var stat = await observer.StatAsync(Root + "/e");
        Assert.Equal(owner.SessionId, stat.EphemeralOwner);
        Assert.Equal([Root + "/e"], await owner.GetEphemeralsAsync(Root));
        Assert.Empty(await observer.GetEphemeralsAsync("/"));
        await ZkTest.ThrowsAsync(ZkErrorCode.NoChildrenForEphemerals, async () => await owner.CreateAsync(Root + "/e/x"));

        await owner.CloseAsync();
        Assert.Null(await observer.ExistsAsync(Root + "/e"));
        Assert.Equal(SessionState.Closed, owner.State);
        await ZkTest.ThrowsAsync(ZkErrorCode.SessionExpired, async () => await owner.ExistsAsync(Root));
    }

    [SkippableFact]
    public async Task Children_come_with_the_parent_stat_and_counts()
    {
        await using var zk = await Server.ConnectAsync();
        await zk.CreateAsync(Root);
        await zk.CreateAsync(Root + "/a");
        await zk.CreateAsync(Root + "/b");
        await zk.CreateAsync(Root + "/a/x");
        var children = await zk.GetChildrenWithStatAsync(Root);
        Assert.Equal(["a", "b"], children.Children.Order(StringComparer.Ordinal));
        Assert.Equal(2, children.Stat.NumChildren);
        Assert.Equal(2, children.Stat.Cversion);
        Assert.Equal(["a", "b"], (await zk.GetChildrenAsync(Root)).Order(StringComparer.Ordinal));
        Assert.Equal(3, await zk.GetAllChildrenNumberAsync(Root));
        await ZkTest.ThrowsAsync(ZkErrorCode.NoNode, async () => await zk.GetChildrenAsync(Root + "/missing"));
    }

    [SkippableFact]
    public async Task A_multi_applies_all_ops_and_reports_each_result()
    {
        await using var zk = await Server.ConnectAsync();
        await zk.CreateAsync(Root);
        var results = await zk.MultiAsync(
        [
            Op.Create(Root + "/m", [1], Acl.OpenUnsafe, CreateMode.Persistent),
            Op.SetData(Root + "/m", [2], 0),
            Op.Check(Root + "/m", 1),
            Op.Create(Root + "/gone", null, Acl.OpenUnsafe, CreateMode.Persistent),
            Op.Delete(Root + "/gone"),
        ]);
        Assert.Equal(Root + "/m", Assert.IsType<CreateResult>(results[0]).Path);
        Assert.Equal(1, Assert.IsType<SetDataResult>(results[1]).Stat.Version);
        Assert.IsType<CheckResult>(results[2]);
        Assert.IsType<CreateResult>(results[3]);
        Assert.IsType<DeleteResult>(results[4]);
        Assert.Equal([2], (await zk.GetDataAsync(Root + "/m")).Data.ToArray());
    }

    [SkippableFact]
    public async Task A_failed_multi_applies_nothing_and_reports_rolled_back_failing_and_skipped_ops()
    {
        await using var zk = await Server.ConnectAsync();
        await zk.CreateAsync(Root);
        var e = await ZkTest.ThrowsAsync(ZkErrorCode.BadVersion, async () => await zk.MultiAsync(
        [
            Op.Create(Root + "/m", null, Acl.OpenUnsafe, CreateMode.Persistent),
            Op.SetData(Root, null, 7),
            Op.Delete(Root + "/m"),
        ]));
        Assert.Equal(
            [new ErrorResult(ZkErrorCode.Ok), new ErrorResult(ZkErrorCode.BadVersion), new ErrorResult(ZkErrorCode.RuntimeInconsistency)],
            e.Results!);
        Assert.Null(await zk.ExistsAsync(Root + "/m"));
    }

    [SkippableFact]
    public async Task Sync_completes_and_later_reads_see_other_sessions_writes()
    {
        await using var writer = await Server.ConnectAsync();
        await using var reader = await Server.ConnectAsync();
        await writer.CreateAsync(Root, CreateMode.Persistent, [9]);
        await reader.SyncAsync(Root);
        Assert.Equal([9], (await reader.GetDataAsync(Root)).Data.ToArray());
    }

    [SkippableFact]
    public async Task Digest_protected_nodes_answer_NoAuth_without_the_identity()
    {
        await using var owner = await Server.ConnectAsync();
        await owner.AddAuthInfoAsync("digest", "alice:secret"u8.ToArray());
        await owner.CreateAsync(Root, [1], Acl.CreatorAll, CreateMode.Persistent);
        Assert.Equal([1], (await owner.GetDataAsync(Root)).Data.ToArray());
        var acl = (await owner.GetAclAsync(Root)).Acl;
        Assert.Equal("digest", Assert.Single(acl).Id.Scheme);
        Assert.StartsWith("alice:", acl[0].Id.Identity, StringComparison.Ordinal);

        await using var stranger = await Server.ConnectAsync();
        await ZkTest.ThrowsAsync(ZkErrorCode.NoAuth, async () => await stranger.GetDataAsync(Root));
        await ZkTest.ThrowsAsync(ZkErrorCode.NoAuth, async () => await stranger.SetDataAsync(Root, null));
        Assert.NotNull(await stranger.ExistsAsync(Root));

        await using var friend = await Server.ConnectAsync();
        await friend.AddAuthInfoAsync("digest", "alice:secret"u8.ToArray());
        Assert.Equal([1], (await friend.GetDataAsync(Root)).Data.ToArray());
        Assert.Contains(await friend.WhoAmIAsync(), info => info.AuthScheme == "digest" && info.User == "alice");
    }
}

public sealed class InProcessNodeContractTests(InProcessServer server) : NodeContract(server), IClassFixture<InProcessServer>;

public sealed class PeerWireNodeContractTests(PeerWireServer server) : NodeContract(server), IClassFixture<PeerWireServer>;

[Collection(ApacheCollection.Name)]
public sealed class ApacheNodeContractTests(ApacheZooKeeperServer server) : NodeContract(server);

/// <summary>One Apache ZooKeeper process for every contract class that runs against it.</summary>
[CollectionDefinition(Name)]
public sealed class ApacheCollection : ICollectionFixture<ApacheZooKeeperServer>
{
    public const string Name = "Apache ZooKeeper 3.8";
}
