using Zk.Embedded.Config;
using Zk.Embedded.Tests.Storage;

namespace Zk.Embedded.Tests.Cluster;

/// <summary>zoo.cfg's replication keys as an Apache ZooKeeper operator writes them, and the mistakes that must stop a start.</summary>
public sealed class ZooCfgEnsembleTests
{
    private const string Three = """
        tickTime=2000
        initLimit=7
        syncLimit=3
        quorum.auth.secretFile=/etc/zk/secret
        server.1=10.0.0.1:2888:3888
        server.2=10.0.0.2:2888:3888:participant;2182
        server.3=[fe80::1]:2888:3888:observer;0.0.0.0:2183
        """;

    [Fact]
    public void Server_lines_give_ids_quorum_addresses_roles_and_client_ports()
    {
        var cfg = ZooCfg.Parse(Three);
        Assert.True(cfg.IsReplicated);
        Assert.Equal((7, 3), (cfg.InitLimit, cfg.SyncLimit));
        Assert.Equal("/etc/zk/secret", cfg.QuorumSecretFile);
        Assert.Equal(
            [
                new ZooCfgServer(1, "10.0.0.1", 2888, 3888, false, null, null),
                new ZooCfgServer(2, "10.0.0.2", 2888, 3888, false, null, 2182),
                new ZooCfgServer(3, "[fe80::1]", 2888, 3888, true, "0.0.0.0", 2183),
            ],
            cfg.Servers);
        Assert.Equal("[fe80::1]:2888", cfg.Servers[2].QuorumAddress);
        Assert.Empty(cfg.Unused);
    }

    [Fact]
    public void One_server_line_or_none_stays_standalone_as_ZooKeeper_does()
    {
        Assert.False(ZooCfg.Parse("server.1=127.0.0.1:2888:3888\n").IsReplicated);
        Assert.False(ZooCfg.Parse("clientPort=2181\n").IsReplicated);
    }

    [Theory]
    [InlineData("server.1=a:2888:3888\nserver.2=a:2888:3889\nquorum.auth.enable=false", "server.2's quorum port and server.1's quorum port are both a:2888")]
    [InlineData("server.1=a:2888:2888\nserver.2=b:2888:3888\nquorum.auth.enable=false", "server.1's election port and server.1's quorum port are both a:2888")]
    [InlineData("server.1=a:2888:3888;2181\nserver.2=b:2888:3888;a:2181\nquorum.auth.enable=false", "server.2's client port and server.1's client port are both a:2181")]
    [InlineData("server.1=a:2888\nserver.2=b:2888:3888", "server.1=a:2888 is not host:quorumPort:electionPort")]
    [InlineData("server.1=a:2888:3888:leader\nserver.2=b:2888:3888", "the role 'leader' is neither participant nor observer")]
    [InlineData("server.x=a:2888:3888", "server.x does not name a server id from 1 to 255")]
    [InlineData("server.1=a:70000:3888", "'70000' is not a port")]
    [InlineData("server.1=a:2888:3888\nserver.2=b:2888:3888", "set quorum.auth.secretFile")]
    [InlineData("server.1=a:2888:3888:observer\nserver.2=b:2888:3888:observer\nquorum.auth.enable=false", "every server is an observer")]
    [InlineData("initLimit=0", "initLimit=0 must be at least 1")]
    public void A_mistake_in_the_server_lines_is_refused_with_what_is_wrong(string text, string expected)
    {
        var e = Assert.Throws<FormatException>(() => ZooCfg.Parse(text));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_reads_myid_from_the_data_dir_and_refuses_a_missing_or_foreign_one()
    {
        using var dir = new TempDirectory();
        var cfgPath = dir.File("zoo.cfg");
        File.WriteAllText(cfgPath, $"dataDir={dir.Path}\nquorum.auth.enable=false\nserver.1=127.0.0.1:2888:3888\nserver.2=127.0.0.1:2889:3889\n");

        Assert.Contains("myid is missing", Assert.Throws<FormatException>(() => ZooCfg.Load(cfgPath)).Message.Replace(Path.Combine(dir.Path, "myid"), "myid", StringComparison.Ordinal), StringComparison.Ordinal);
        File.WriteAllText(Path.Combine(dir.Path, "myid"), "7\n");
        Assert.Contains("myid 7 is not among the servers", Assert.Throws<FormatException>(() => ZooCfg.Load(cfgPath)).Message, StringComparison.Ordinal);
        File.WriteAllText(Path.Combine(dir.Path, "myid"), "2\n");
        Assert.Equal(2, ZooCfg.Load(cfgPath).MyId);
    }
}
