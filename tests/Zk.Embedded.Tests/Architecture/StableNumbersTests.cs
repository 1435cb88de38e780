using Zk.Embedded.Api;

namespace Zk.Embedded.Tests.Architecture;

/// <summary>
/// The numbers of ZooKeeper's codes are a contract with every client: on the wire and in logs. This freezes them,
/// so a rename or reorder cannot change one by accident.
/// </summary>
public sealed class StableNumbersTests
{
    [Fact]
    public void Error_codes_keep_ZooKeepers_numbers()
    {
        var expected = new Dictionary<ZkErrorCode, int>
        {
            [ZkErrorCode.Ok] = 0, [ZkErrorCode.SystemError] = -1, [ZkErrorCode.RuntimeInconsistency] = -2,
            [ZkErrorCode.DataInconsistency] = -3, [ZkErrorCode.ConnectionLoss] = -4, [ZkErrorCode.MarshallingError] = -5,
            [ZkErrorCode.Unimplemented] = -6, [ZkErrorCode.OperationTimeout] = -7, [ZkErrorCode.BadArguments] = -8,
            [ZkErrorCode.UnknownSession] = -12, [ZkErrorCode.NewConfigNoQuorum] = -13, [ZkErrorCode.ReconfigInProgress] = -14,
            [ZkErrorCode.ApiError] = -100, [ZkErrorCode.NoNode] = -101, [ZkErrorCode.NoAuth] = -102, [ZkErrorCode.BadVersion] = -103,
            [ZkErrorCode.NoChildrenForEphemerals] = -108, [ZkErrorCode.NodeExists] = -110, [ZkErrorCode.NotEmpty] = -111,
            [ZkErrorCode.SessionExpired] = -112, [ZkErrorCode.InvalidCallback] = -113, [ZkErrorCode.InvalidAcl] = -114,
            [ZkErrorCode.AuthFailed] = -115, [ZkErrorCode.SessionMoved] = -118, [ZkErrorCode.NotReadOnly] = -119,
            [ZkErrorCode.EphemeralOnLocalSession] = -120, [ZkErrorCode.NoWatcher] = -121, [ZkErrorCode.RequestTimeout] = -122,
            [ZkErrorCode.ReconfigDisabled] = -123, [ZkErrorCode.SessionClosedRequireSaslAuth] = -124,
            [ZkErrorCode.QuotaExceeded] = -125, [ZkErrorCode.Throttled] = -127,
        };
        Assert.Equal(expected.Count, Enum.GetValues<ZkErrorCode>().Length);
        foreach (var (code, number) in expected)
        {
            Assert.True((int)code == number, $"{code} must be {number}, is {(int)code}");
        }
    }

    [Fact]
    public void Create_modes_perms_and_event_enums_keep_ZooKeepers_numbers()
    {
        Assert.Equal([0, 1, 2, 3, 4, 5, 6], Enum.GetValues<CreateMode>().Select(m => (int)m));
        Assert.Equal([0, 1, 2, 4, 8, 16, 31], Enum.GetValues<Perms>().Select(p => (int)p));
        Assert.Equal([-1, 1, 2, 3, 4, 5, 6, 7], Enum.GetValues<EventType>().Select(t => (int)t).Order());
        Assert.Equal(
            new Dictionary<KeeperState, int>
            {
                [KeeperState.Disconnected] = 0, [KeeperState.SyncConnected] = 3, [KeeperState.AuthFailed] = 4,
                [KeeperState.ConnectedReadOnly] = 5, [KeeperState.SaslAuthenticated] = 6, [KeeperState.Expired] = -112,
                [KeeperState.Closed] = 7,
            },
            Enum.GetValues<KeeperState>().ToDictionary(s => s, s => (int)s));
        Assert.Equal([1, 2, 3, 4, 5], Enum.GetValues<WatcherType>().Select(t => (int)t));
        Assert.Equal([0, 1], Enum.GetValues<AddWatchMode>().Select(m => (int)m));
    }
}
