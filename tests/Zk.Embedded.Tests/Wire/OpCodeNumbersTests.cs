using Zk.Embedded.Wire.Jute;

namespace Zk.Embedded.Tests.Wire;

/// <summary>Opcodes and special xids are on the wire (ZooDefs.OpCode, ClientCnxn): this freezes their numbers.</summary>
public sealed class OpCodeNumbersTests
{
    [Fact]
    public void Opcodes_keep_ZooKeepers_numbers()
    {
        var expected = new Dictionary<OpCode, int>
        {
            [OpCode.Notification] = 0, [OpCode.Create] = 1, [OpCode.Delete] = 2, [OpCode.Exists] = 3, [OpCode.GetData] = 4,
            [OpCode.SetData] = 5, [OpCode.GetAcl] = 6, [OpCode.SetAcl] = 7, [OpCode.GetChildren] = 8, [OpCode.Sync] = 9,
            [OpCode.Ping] = 11, [OpCode.GetChildren2] = 12, [OpCode.Check] = 13, [OpCode.Multi] = 14, [OpCode.Create2] = 15,
            [OpCode.Reconfig] = 16, [OpCode.CheckWatches] = 17, [OpCode.RemoveWatches] = 18, [OpCode.CreateContainer] = 19,
            [OpCode.DeleteContainer] = 20, [OpCode.CreateTtl] = 21, [OpCode.MultiRead] = 22, [OpCode.Auth] = 100,
            [OpCode.SetWatches] = 101, [OpCode.Sasl] = 102, [OpCode.GetEphemerals] = 103, [OpCode.GetAllChildrenNumber] = 104,
            [OpCode.SetWatches2] = 105, [OpCode.AddWatch] = 106, [OpCode.WhoAmI] = 107, [OpCode.CreateSession] = -10,
            [OpCode.CloseSession] = -11, [OpCode.Error] = -1,
        };
        Assert.Equal(expected.Count, Enum.GetValues<OpCode>().Length);
        foreach (var (code, number) in expected)
        {
            Assert.True((int)code == number, $"{code} must be {number}, is {(int)code}");
        }
    }

    [Fact]
    public void Special_xids_keep_ZooKeepers_numbers()
    {
        Assert.Equal(-1, Xids.Notification);
        Assert.Equal(-2, Xids.Ping);
        Assert.Equal(-4, Xids.Auth);
        Assert.Equal(-8, Xids.SetWatches);
    }
}
