using System.Net;
using Xunit.Abstractions;
using Zk.Embedded.Api;
using Zk.Embedded.Tests.Ensemble;
using Zk.Embedded.Tests.Interop;
using Zk.Embedded.Tests.Replication;
using Zk.Embedded.Tests.Storage;
using Zk.Embedded.Tests.Support;
using Zk.Embedded.Wire.Client;

namespace Zk.Embedded.Tests.Cluster;

/// <summary>
/// Three <c>zk start zoo.cfg</c> processes on loopback form one ensemble over NetMQ, configured as an Apache
/// ZooKeeper operator would (server.N lines, dataDir/myid), and a wire client with a three-host connect string
/// writes to it: SIGKILL of the leader, then SIGSTOP of the next one.
/// </summary>
[Collection(RunsAlone.Name)]
public sealed class ZkEnsembleProcessTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Deadline = ZkProcessEnsemble.Deadline;
    private readonly ZkProcessEnsemble _ensemble = new();

    public void Dispose() => _ensemble.Dispose(output);

    [Fact]
    public async Task The_leaders_SIGKILL_loses_no_acknowledged_write_keeps_the_session_and_the_restarted_peer_catches_up()
    {
        _ensemble.Configure(3);
        _ensemble.StartAll();
        var leader = await _ensemble.LeaderAsync(_ensemble.Members);

        await using var client = await ZkClient.ConnectAsync(_ensemble.ConnectString, new ZkClientOptions { SessionTimeout = TimeSpan.FromSeconds(8) });
        var session = client.SessionId;
        await client.CreateAsync("/owner", "me"u8.ToArray(), Acl.OpenUnsafe, CreateMode.Ephemeral);
        await ZkProcessEnsemble.WriteAsync(client, 0, 20);

        _ensemble.Members[leader - 1].Process!.Kill();
        await ZkProcessEnsemble.WriteAsync(client, 20, 40);   // through whichever member the client moved to, once a new leader serves
        var next = await _ensemble.LeaderAsync(_ensemble.Members.Where(m => m.Id != leader));
        Assert.NotEqual(leader, next);
        Assert.Equal(session, client.SessionId);
        Assert.True(await client.ExistsAsync("/owner") is not null, "expected the session's ephemeral to survive the failover");

        _ensemble.Members[leader - 1].Start(_ensemble.Directory);
        await _ensemble.LeaderAsync(_ensemble.Members);   // every member serves again, the restarted one as a follower
        await _ensemble.EveryMemberHoldsAsync(40);

        // SIGSTOP: a leader that falls silent is replaced; once continued it rejoins as a follower.
        var stopped = _ensemble.Members[next - 1];
        ZkProcessEnsemble.Signal(stopped, ZkProcessEnsemble.SigStop);
        try
        {
            await ZkProcessEnsemble.WriteAsync(client, 40, 50);
            var third = await _ensemble.LeaderAsync(_ensemble.Members.Where(m => m != stopped));
            Assert.NotEqual(next, third);
        }
        finally
        {
            ZkProcessEnsemble.Signal(stopped, ZkProcessEnsemble.SigCont);
        }

        await _ensemble.LeaderAsync(_ensemble.Members);
        Assert.Contains("Mode: follower", await ZkProcessEnsemble.SrvrAsync(stopped), StringComparison.Ordinal);
        await _ensemble.EveryMemberHoldsAsync(50);
        Assert.Equal(session, client.SessionId);
    }

    /// <summary>kazoo with a three-host connect string: its session and ephemeral outlive the leader's SIGKILL.</summary>
    private const string KazooScript = """
        import sys
        from kazoo.client import KazooClient
        from kazoo.retry import KazooRetry
        zk = KazooClient(hosts=sys.argv[1], timeout=8.0, connection_retry=KazooRetry(max_tries=-1, delay=0.05, max_delay=0.5),
                         command_retry=KazooRetry(max_tries=-1, delay=0.05, max_delay=0.5, deadline=30))
        zk.start(timeout=30)
        zk.create("/kz-owner", b"me", ephemeral=True)
        zk.create("/kz-before", b"1")
        session = zk.client_id[0]
        print("ready", flush=True)
        sys.stdin.readline()   # the test kills the leader, then says go
        zk.retry(zk.create, "/kz-after", b"2")
        assert zk.client_id[0] == session, "kazoo's session changed across the failover"
        assert zk.exists("/kz-owner") is not None, "kazoo's ephemeral is gone after the failover"
        assert zk.get("/kz-before")[0] == b"1"
        zk.stop()
        print("all checks passed", flush=True)
        """;

    [SkippableFact]
    public async Task Kazoo_with_three_hosts_keeps_its_session_and_ephemeral_across_the_leaders_SIGKILL()
    {
        InteropTools.RequireKazoo();
        _ensemble.Configure(3);
        _ensemble.StartAll();
        var leader = await _ensemble.LeaderAsync(_ensemble.Members);
        var script = _ensemble.File("kazoo_failover.py");
        System.IO.File.WriteAllText(script, KazooScript);

        await using var kazoo = ExternalProcess.Start(InteropTools.DebianPython, ["-u", script, _ensemble.ConnectString]);
        await kazoo.WaitForOutputAsync(() => kazoo.StdOut.Contains("ready", StringComparison.Ordinal), "kazoo to connect and write", Deadline);
        _ensemble.Members[leader - 1].Process!.Kill();
        await kazoo.WriteLineAsync("go");
        await kazoo.WaitForExitAsync(Deadline);
        output.WriteLine(kazoo.Transcript);
        Assert.True(kazoo.ExitCode == 0 && kazoo.StdOut.Contains("all checks passed", StringComparison.Ordinal),
            $"expected kazoo's checks to pass across the failover, it exited {kazoo.ExitCode}:\n{kazoo.Transcript}");
    }

    [SkippableFact]
    public async Task ZkCli_with_three_hosts_writes_before_and_after_the_leaders_SIGKILL()
    {
        InteropTools.RequireFiles(InteropTools.ZkCli);
        _ensemble.Configure(3);
        _ensemble.StartAll();
        var leader = await _ensemble.LeaderAsync(_ensemble.Members);
        await ZkCliAsync("create", "/cli-before", "1");

        _ensemble.Members[leader - 1].Process!.Kill();
        await _ensemble.LeaderAsync(_ensemble.Members.Where(m => m.Id != leader));
        await ZkCliAsync("create", "/cli-after", "2");   // -waitforconnection: zkCli tries the hosts until a live one answers
        var listed = await ZkCliAsync("ls", "/");
        Assert.True(listed.Contains("cli-before", StringComparison.Ordinal) && listed.Contains("cli-after", StringComparison.Ordinal),
            $"expected zkCli ls / to show both nodes:\n{listed}");
    }

    private async Task<string> ZkCliAsync(params string[] command)
    {
        await using var cli = await ExternalProcess.RunAsync(
            InteropTools.ZkCli, ["-server", _ensemble.ConnectString, "-waitforconnection", "-timeout", "10000", .. command], "", InteropTools.ProgramDeadline,
            new Dictionary<string, string> { ["JVMFLAGS"] = $"-Dzookeeper.log.dir={_ensemble.Directory}" });
        Assert.True(cli.ExitCode == 0, $"expected zkCli {string.Join(' ', command)} to exit 0, got {cli.ExitCode}:\n{cli.Transcript}");
        return cli.StdOut;
    }
}
