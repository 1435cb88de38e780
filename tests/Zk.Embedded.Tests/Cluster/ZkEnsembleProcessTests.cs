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
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(45);
    private readonly TempDirectory _dir = new();
    private readonly List<Member> _members = [];

    [Fact]
    public async Task The_leaders_SIGKILL_loses_no_acknowledged_write_keeps_the_session_and_the_restarted_peer_catches_up()
    {
        Configure(3);
        foreach (var m in _members)
            m.Start(_dir.Path);
        var leader = await LeaderAsync(_members);

        await using var client = await ZkClient.ConnectAsync(ConnectString, new ZkClientOptions { SessionTimeout = TimeSpan.FromSeconds(8) });
        var session = client.SessionId;
        await client.CreateAsync("/owner", "me"u8.ToArray(), Acl.OpenUnsafe, CreateMode.Ephemeral);
        await WriteAsync(client, 0, 20);

        _members[leader - 1].Process!.Kill();
        await WriteAsync(client, 20, 40);   // through whichever member the client moved to, once a new leader serves
        var next = await LeaderAsync(_members.Where(m => m.Id != leader));
        Assert.NotEqual(leader, next);
        Assert.Equal(session, client.SessionId);
        Assert.True(await client.ExistsAsync("/owner") is not null, "expected the session's ephemeral to survive the failover");

        _members[leader - 1].Start(_dir.Path);
        await LeaderAsync(_members);   // every member serves again, the restarted one as a follower
        await EveryMemberHoldsAsync(40);

        // SIGSTOP: a leader that falls silent is replaced; once continued it rejoins as a follower.
        var stopped = _members[next - 1];
        Signal(stopped, SigStop);
        try
        {
            await WriteAsync(client, 40, 50);
            var third = await LeaderAsync(_members.Where(m => m != stopped));
            Assert.NotEqual(next, third);
        }
        finally
        {
            Signal(stopped, SigCont);
        }

        await LeaderAsync(_members);
        Assert.Contains("Mode: follower", await SrvrAsync(stopped), StringComparison.Ordinal);
        await EveryMemberHoldsAsync(50);
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
        Configure(3);
        foreach (var m in _members)
            m.Start(_dir.Path);
        var leader = await LeaderAsync(_members);
        var script = _dir.File("kazoo_failover.py");
        File.WriteAllText(script, KazooScript);

        await using var kazoo = ExternalProcess.Start(InteropTools.DebianPython, ["-u", script, ConnectString]);
        await kazoo.WaitForOutputAsync(() => kazoo.StdOut.Contains("ready", StringComparison.Ordinal), "kazoo to connect and write", Deadline);
        _members[leader - 1].Process!.Kill();
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
        Configure(3);
        foreach (var m in _members)
            m.Start(_dir.Path);
        var leader = await LeaderAsync(_members);
        await ZkCliAsync("create", "/cli-before", "1");

        _members[leader - 1].Process!.Kill();
        await LeaderAsync(_members.Where(m => m.Id != leader));
        await ZkCliAsync("create", "/cli-after", "2");   // -waitforconnection: zkCli tries the hosts until a live one answers
        var listed = await ZkCliAsync("ls", "/");
        Assert.True(listed.Contains("cli-before", StringComparison.Ordinal) && listed.Contains("cli-after", StringComparison.Ordinal),
            $"expected zkCli ls / to show both nodes:\n{listed}");
    }

    private async Task<string> ZkCliAsync(params string[] command)
    {
        await using var cli = await ExternalProcess.RunAsync(
            InteropTools.ZkCli, ["-server", ConnectString, "-waitforconnection", "-timeout", "10000", .. command], "", InteropTools.ProgramDeadline,
            new Dictionary<string, string> { ["JVMFLAGS"] = $"-Dzookeeper.log.dir={_dir.Path}" });
        Assert.True(cli.ExitCode == 0, $"expected zkCli {string.Join(' ', command)} to exit 0, got {cli.ExitCode}:\n{cli.Transcript}");
        return cli.StdOut;
    }

    private string ConnectString => string.Join(',', _members.Select(m => m.Client.ToString()));

    private void Configure(int count)
    {
        var secret = _dir.File("secret");
        File.WriteAllBytes(secret, System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        var ports = Enumerable.Range(1, count).Select(_ => (Quorum: InteropTools.FreeLoopbackPort(), Election: InteropTools.FreeLoopbackPort(), Client: InteropTools.FreeLoopbackPort())).ToList();
        var servers = string.Join('\n', ports.Select((p, i) => $"server.{i + 1}=127.0.0.1:{p.Quorum}:{p.Election};127.0.0.1:{p.Client}"));
        for (var id = 1; id <= count; id++)
        {
            var data = Directory.CreateDirectory(_dir.File($"data{id}")).FullName;
            File.WriteAllText(Path.Combine(data, "myid"), $"{id}\n");
            var cfg = _dir.File($"zoo{id}.cfg");
            File.WriteAllText(cfg, $"tickTime=500\ninitLimit=10\nsyncLimit=5\ndataDir={data}\nquorum.auth.secretFile={secret}\n{servers}\n");
            _members.Add(new Member(id, cfg, new IPEndPoint(IPAddress.Loopback, ports[id - 1].Client)));
        }
    }

    /// <summary>Creates /w{from}../w{to-1}, each retried on ConnectionLoss (a retry that finds it committed is fine).</summary>
    private static async Task WriteAsync(ZkClient client, int from, int to)
    {
        for (var i = from; i < to; i++)
        {
            var path = $"/w{i}";
            await EnsembleKit.RetryOnConnectionLossAsync(async () =>
            {
                try
                {
                    await client.CreateAsync(path, [], Acl.OpenUnsafe, CreateMode.Persistent);
                }
                catch (ZkException e) when (e.Code == ZkErrorCode.NodeExists)
                {
                    // an earlier try committed before its connection was lost
                }
            });
        }
    }

    /// <summary>Each member, asked on its own, holds every acknowledged write.</summary>
    private async Task EveryMemberHoldsAsync(int writes)
    {
        foreach (var m in _members)
        {
            await using var direct = await ZkClient.ConnectAsync(m.Client.ToString());
            await direct.SyncAsync("/");
            var children = await direct.GetChildrenAsync("/");
            var missing = Enumerable.Range(0, writes).Select(i => $"w{i}").Except(children).ToList();
            Assert.True(missing.Count == 0, $"expected server {m.Id} to hold every acknowledged write; missing: {string.Join(", ", missing)}");
        }
    }

    /// <summary>Waits until each of <paramref name="members"/> serves as leader or follower under one leader; returns its id.</summary>
    private async Task<int> LeaderAsync(IEnumerable<Member> members)
    {
        var list = members.ToList();
        var until = DateTime.UtcNow + Deadline;
        string modes = "";
        while (DateTime.UtcNow < until)
        {
            var answers = new List<string>();
            foreach (var m in list)
                answers.Add(await SrvrAsync(m));
            modes = string.Join(" | ", answers.Select((a, i) => $"{list[i].Id}: {ModeOf(a)}"));
            var leaders = list.Where((m, i) => ModeOf(answers[i]) == "leader").ToList();
            if (leaders.Count == 1 && answers.All(a => ModeOf(a) is "leader" or "follower"))
                return leaders[0].Id;
            await Task.Delay(50);   // a condition poll of separate processes, with a deadline
        }

        Assert.Fail($"expected one leader and followers among servers {string.Join(",", list.Select(m => m.Id))} within {Deadline}; last modes: {modes}");
        return 0;
    }

    private static async Task<string> SrvrAsync(Member m)
    {
        try
        {
            return await InteropTools.FourLetterWordAsync(m.Client, "srvr", TimeSpan.FromSeconds(2));
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or OperationCanceledException)
        {
            return "";
        }
    }

    private static string ModeOf(string srvr) =>
        srvr.Split('\n').FirstOrDefault(l => l.StartsWith("Mode: ", StringComparison.Ordinal))?[6..].Trim() ?? "not serving";

    private const string SigStop = "STOP";
    private const string SigCont = "CONT";

    private static void Signal(Member m, string signal)
    {
        using var kill = System.Diagnostics.Process.Start("kill", ["-" + signal, m.Process!.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
        Assert.True(kill.ExitCode == 0, $"expected SIG{signal} to reach server {m.Id} (pid {m.Process.Id})");
    }

    public void Dispose()
    {
        foreach (var m in _members)
        {
            if (m.Process is { } p)
            {
                output.WriteLine($"--- server {m.Id} ---\n{p.RecentOutput}");
                p.Dispose();
            }
        }

        _dir.Dispose();
    }

    private sealed class Member(int id, string config, IPEndPoint client)
    {
        public int Id => id;
        public IPEndPoint Client => client;
        public ZkChildProcess? Process { get; private set; }

        public void Start(string workingDirectory)
        {
            Process?.Dispose();
            Process = ZkChildProcess.Start(config, workingDirectory);
        }
    }
}
