using Zk.Embedded.Config;

namespace Zk.Embedded.Tests.Wire;

/// <summary>The connection limits read from zoo.cfg under ZooKeeper's names, and ZooKeeper's defaults.</summary>
public sealed class ConnectionLimitsConfigTests
{
    [Fact]
    public void The_limits_default_to_ZooKeepers_values()
    {
        var options = ZooCfg.Parse("tickTime=2000\n").Options;
        Assert.Equal(1000, options.GlobalOutstandingLimit);
        Assert.Equal(TimeSpan.FromSeconds(10), options.SessionlessConnectionTimeout);
    }

    [Fact]
    public void ZooCfg_sets_the_limits_with_or_without_the_zookeeper_prefix()
    {
        var plain = ZooCfg.Parse("globalOutstandingLimit=50\nnio.sessionlessCnxnTimeout=2500\n");
        var prefixed = ZooCfg.Parse("zookeeper.globalOutstandingLimit=60\nzookeeper.nio.sessionlessCnxnTimeout=3000\n");
        Assert.Equal((50, TimeSpan.FromMilliseconds(2500)), (plain.Options.GlobalOutstandingLimit, plain.Options.SessionlessConnectionTimeout));
        Assert.Equal((60, TimeSpan.FromMilliseconds(3000)), (prefixed.Options.GlobalOutstandingLimit, prefixed.Options.SessionlessConnectionTimeout));
        Assert.Empty(plain.Unused);
        Assert.Throws<ArgumentException>(() => (plain.Options with { GlobalOutstandingLimit = 0 }).Validate());
    }
}
