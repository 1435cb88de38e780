using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace Zk.Embedded.Tests.Interop;

/// <summary>
/// The Java zkCli.sh runs the same session against our peer and against Apache ZooKeeper 3.8; the transcripts must
/// match once what legitimately differs (times, zxid values, session ids, the port) is normalised.
/// </summary>
public sealed partial class ZkCliTests(ITestOutputHelper output)
{
    /// <summary>One zkCli session: every command's answer, errors included, is compared.</summary>
    private static readonly string[] Session =
    [
        "create /a hello",
        "create /a again",
        "ls /",
        "ls -s /",
        "get -s /a",
        "get /missing",
        "set /a world",
        "set -v 7 /a nope",
        "stat /a",
        "create /p",
        "create /p/c1 one",
        "create -s /p/seq- s",
        "create -s /p/seq- s",
        "create -e /p/eph e",
        "stat /p/eph",
        "create /p/eph/child x",
        "ls -R /p",
        "getAllChildrenNumber /p",
        "getEphemerals /",
        "delete /p",
        "delete /p/c1",
        "create -s /p/seq- s",
        "stat /p",
        "getAcl /a",
        "setAcl /a world:anyone:r",
        "getAcl /a",
        "stat /a",
        "set /a denied",
        "create -c /cont",
        "create /cont/x",
        "delete /cont/x",
        "sync /",
        "whoami",
        "deleteall /p",
        "ls /",
        "addWatch -m PERSISTENT /a",
        "addWatch -m PERSISTENT_RECURSIVE /cont",
        "removewatches /missing",
        "create /w 1",
        "get -w /w",
        "set /w 2",
        // zkCli prints events on its own thread: a round trip before quit lets it print the NodeDataChanged, which
        // both servers send ahead of set's reply, before the process exits (against a fast server it could lose it).
        "ls /w",
        "quit",
    ];

    [SkippableFact]
    public async Task A_zkCli_session_prints_the_same_against_our_peer_as_against_Apache_ZooKeeper()
    {
        InteropTools.RequireFiles(InteropTools.ZkCli, InteropTools.ZkServer, InteropTools.ZooKeeperJar);
        await using var apache = await ApacheZooKeeper.StartAsync(TimeSpan.FromSeconds(40));
        await using var peer = await ZkPeer.StartAsync(new ZkPeerOptions { ClientPort = 0 });

        var theirs = await RunSessionAsync(apache.ClientEndPoint);
        var ours = await RunSessionAsync(peer.ClientEndPoint!);

        var expected = Normalise(theirs);
        var actual = Normalise(ours);
        output.WriteLine($"--- Apache ZooKeeper 3.8 (normalised) ---\n{expected}\n--- Zk.Embedded (normalised) ---\n{actual}");
        Assert.True(
            expected == actual,
            $"expected zkCli to print the same against our peer as against Apache ZooKeeper; first difference: {FirstDifference(expected, actual)}\n" +
            $"--- Apache ZooKeeper 3.8 ---\n{expected}\n--- Zk.Embedded ---\n{actual}");
    }

    [SkippableFact]
    public async Task ZkCli_with_a_command_as_arguments_reads_a_node_from_our_peer()
    {
        InteropTools.RequireFiles(InteropTools.ZkCli);
        await using var peer = await ZkPeer.StartAsync(new ZkPeerOptions { ClientPort = 0 });
        await using (var local = await peer.ConnectAsync())
        {
            await local.CreateAsync("/from-args", "payload"u8.ToArray(), Api.Acl.OpenUnsafe, Api.CreateMode.Persistent);
        }

        var endPoint = peer.ClientEndPoint!;
        await using var cli = await ExternalProcess.RunAsync(
            InteropTools.ZkCli, ["-server", $"{endPoint.Address}:{endPoint.Port}", "get", "/from-args"], "", InteropTools.ProgramDeadline, CliEnvironment());
        Assert.True(cli.ExitCode == 0, $"expected zkCli get to exit 0, got {cli.ExitCode}:\n{cli.Transcript}");
        Assert.True(cli.StdOut.Split('\n').Contains("payload"), $"expected zkCli get to print the node's data 'payload':\n{cli.Transcript}");
    }

    private static async Task<(string StdOut, string StdErr)> RunSessionAsync(IPEndPoint server)
    {
        await using var cli = await ExternalProcess.RunAsync(
            InteropTools.ZkCli,
            ["-server", $"{server.Address}:{server.Port}", "-waitforconnection", "-timeout", "10000"],
            string.Join('\n', Session) + "\n",
            InteropTools.ProgramDeadline,
            CliEnvironment());
        return (cli.StdOut, cli.StdErr);
    }

    /// <summary>zkCli's own log goes to a temp folder (Debian's zkEnv.sh points it at /var/log/zookeeper).</summary>
    private static Dictionary<string, string> CliEnvironment() => new()
    {
        ["JVMFLAGS"] = $"-Dzookeeper.log.dir={Path.GetTempPath()}",
    };

    /// <summary>
    /// Replaces what differs between two correct servers: the port, times, and zxid and session id values (each distinct
    /// value becomes Z1, Z2, ... or S1, S2, ... in order of appearance, so equal values stay equal). Drops SLF4J noise.
    /// Watch events go to a section of their own, in the order printed: zkCli prints them from its event thread (a
    /// blank line, "WATCHER::", a blank line, the event, in two printlns), so where they land among the commands'
    /// output depends on thread scheduling, not on the server (a loaded machine printed set's NodeDataChanged after
    /// the next command's "[]"). The closing "state:Closed" event is left out: zkCli prints it while it exits, so
    /// either run may lose it.
    /// </summary>
    internal static string Normalise((string StdOut, string StdErr) outputs)
    {
        var zxids = new Dictionary<string, string>();
        var sessions = new Dictionary<string, string>();
        string Label(Dictionary<string, string> map, string prefix, string value) =>
            map.TryGetValue(value, out var label) ? label : map[value] = prefix + (map.Count + 1);

        var text = new StringBuilder();
        var events = new StringBuilder();
        foreach (var (name, stream) in new[] { ("stdout", outputs.StdOut), ("stderr", outputs.StdErr) })
        {
            text.Append('[').Append(name).Append("]\n");
            foreach (var raw in stream.Split('\n'))
            {
                if (raw.StartsWith("SLF4J:", StringComparison.Ordinal) || raw.Length == 0 || raw == "WATCHER::")
                {
                    continue;
                }

                if (raw.StartsWith("WatchedEvent ", StringComparison.Ordinal))
                {
                    if (raw != "WatchedEvent state:Closed type:None path:null")
                    {
                        events.Append(raw).Append('\n');
                    }

                    continue;
                }

                var line = ServerAddress().Replace(raw, "<server>");
                line = TimeLine().Replace(line, m => $"{m.Groups[1].Value} = <time>");
                line = ZxidLine().Replace(line, m => $"{m.Groups[1].Value} = {(m.Groups[2].Value == "0x0" ? "0x0" : Label(zxids, "Z", m.Groups[2].Value))}");
                line = OwnerLine().Replace(line, m => $"ephemeralOwner = {(m.Groups[1].Value == "0x0" ? "0x0" : Label(sessions, "S", m.Groups[1].Value))}");
                text.Append(line).Append('\n');
            }
        }

        text.Append("[events]\n").Append(events);
        return text.ToString().TrimEnd();
    }

    private static string FirstDifference(string expected, string actual)
    {
        var a = expected.Split('\n');
        var b = actual.Split('\n');
        for (var i = 0; i < Math.Max(a.Length, b.Length); i++)
        {
            var x = i < a.Length ? a[i] : "(end)";
            var y = i < b.Length ? b[i] : "(end)";
            if (x != y)
            {
                return $"line {i + 1}: Apache printed \"{x}\", we printed \"{y}\"";
            }
        }

        return "none";
    }

    [GeneratedRegex(@"\d{1,3}(\.\d{1,3}){3}:\d+")]
    private static partial Regex ServerAddress();

    [GeneratedRegex(@"^(ctime|mtime) = .*$")]
    private static partial Regex TimeLine();

    [GeneratedRegex(@"^(cZxid|mZxid|pZxid) = (0x[0-9a-f]+)$")]
    private static partial Regex ZxidLine();

    [GeneratedRegex(@"^ephemeralOwner = (0x[0-9a-f]+)$")]
    private static partial Regex OwnerLine();
}
