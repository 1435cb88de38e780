using System.Net;
using Xunit.Abstractions;
using Zk.Embedded.Api;
using Zk.Embedded.Tests.Ensemble;
using Zk.Embedded.Tests.Interop;
using Zk.Embedded.Tests.Replication;
using Zk.Embedded.Tests.Storage;
using Zk.Embedded.Wire.Client;

namespace Zk.Embedded.Tests.Cluster;

/// <summary>
/// <c>zk start zoo.cfg</c> processes on loopback forming one ensemble over NetMQ, configured as an Apache ZooKeeper
/// operator would (server.N lines, dataDir/myid, an observer's <c>:observer</c> line and <c>peerType=observer</c>),
/// and what the process tests ask of it: modes from <c>srvr</c>, signals, writes and their presence on each member.
/// </summary>
internal sealed class ZkProcessEnsemble
{
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(45);
    public const string SigStop = "STOP";
    public const string SigCont = "CONT";

    private readonly TempDirectory _dir = new();
    private readonly List<Member> _members = [];

    public IReadOnlyList<Member> Members => _members;

    public string Directory => _dir.Path;

    public string ConnectString => string.Join(',', _members.Select(m => m.Client.ToString()));

    public string File(string name) => _dir.File(name);

    /// <summary>Writes zoo.cfg and myid for <paramref name="voters"/> voters (ids 1..) and then <paramref name="observers"/> observers.</summary>
    public void Configure(int voters, int observers = 0)
    {
        var count = voters + observers;
        var secret = _dir.File("secret");
        System.IO.File.WriteAllBytes(secret, System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        var ports = Enumerable.Range(1, count).Select(_ => (Quorum: InteropTools.FreeLoopbackPort(), Election: InteropTools.FreeLoopbackPort(), Client: InteropTools.FreeLoopbackPort())).ToList();
        var servers = string.Join('\n', ports.Select((p, i) => $"server.{i + 1}=127.0.0.1:{p.Quorum}:{p.Election}{(i >= voters ? ":observer" : "")};127.0.0.1:{p.Client}"));
        for (var id = 1; id <= count; id++)
        {
            var data = System.IO.Directory.CreateDirectory(_dir.File($"data{id}")).FullName;
            System.IO.File.WriteAllText(Path.Combine(data, "myid"), $"{id}\n");
            var cfg = _dir.File($"zoo{id}.cfg");
            var peerType = id > voters ? "peerType=observer\n" : "";
            System.IO.File.WriteAllText(cfg, $"tickTime=500\ninitLimit=10\nsyncLimit=5\ndataDir={data}\nquorum.auth.secretFile={secret}\n4lw.commands.whitelist=*\n{peerType}{servers}\n");
            _members.Add(new Member(id, cfg, new IPEndPoint(IPAddress.Loopback, ports[id - 1].Client), IsObserver: id > voters));
        }
    }

    public void StartAll()
    {
        foreach (var m in _members)
            m.Start(_dir.Path);
    }

    /// <summary>Creates /w{from}../w{to-1}, each retried on ConnectionLoss (a retry that finds it committed is fine).</summary>
    public static async Task WriteAsync(ZkClient client, int from, int to)
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
    public async Task EveryMemberHoldsAsync(int writes)
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

    /// <summary>
    /// Waits until each of <paramref name="members"/> serves under one leader (voters as leader or follower, observers
    /// as observer); returns the leader's id.
    /// </summary>
    public async Task<int> LeaderAsync(IEnumerable<Member> members)
    {
        var list = members.ToList();
        var until = DateTime.UtcNow + Deadline;
        string modes = "";
        while (DateTime.UtcNow < until)
        {
            var answers = new List<string>();
            foreach (var m in list)
                answers.Add(ModeOf(await SrvrAsync(m)));
            modes = string.Join(" | ", answers.Select((a, i) => $"{list[i].Id}: {a}"));
            var leaders = list.Where((m, i) => answers[i] == "leader").ToList();
            if (leaders.Count == 1 && list.Select((m, i) => m.IsObserver ? answers[i] == "observer" : answers[i] is "leader" or "follower").All(ok => ok))
                return leaders[0].Id;
            await Task.Delay(50);   // a condition poll of separate processes, with a deadline
        }

        Assert.Fail($"expected one leader and the others serving among servers {string.Join(",", list.Select(m => m.Id))} within {Deadline}; last modes: {modes}");
        return 0;
    }

    public static async Task<string> SrvrAsync(Member m) => await FourLetterWordAsync(m, "srvr");

    public static async Task<string> FourLetterWordAsync(Member m, string word)
    {
        try
        {
            return await InteropTools.FourLetterWordAsync(m.Client, word, TimeSpan.FromSeconds(2));
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or OperationCanceledException)
        {
            return "";
        }
    }

    public static string ModeOf(string srvr) =>
        srvr.Split('\n').FirstOrDefault(l => l.StartsWith("Mode: ", StringComparison.Ordinal))?[6..].Trim() ?? "not serving";

    public static void Signal(Member m, string signal)
    {
        using var kill = System.Diagnostics.Process.Start("kill", ["-" + signal, m.Process!.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
        Assert.True(kill.ExitCode == 0, $"expected SIG{signal} to reach server {m.Id} (pid {m.Process.Id})");
    }

    /// <summary>Stops every process, printing each one's recent output, and deletes the directory.</summary>
    public void Dispose(ITestOutputHelper output)
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

    internal sealed class Member(int id, string config, IPEndPoint client, bool IsObserver)
    {
        public int Id => id;
        public IPEndPoint Client => client;
        public bool IsObserver { get; } = IsObserver;
        public ZkChildProcess? Process { get; private set; }

        public void Start(string workingDirectory)
        {
            Process?.Dispose();
            Process = ZkChildProcess.Start(config, workingDirectory);
        }
    }
}
