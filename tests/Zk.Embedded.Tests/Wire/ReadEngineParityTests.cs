using System.Security.Cryptography;
using System.Text;
using Zk.Embedded.Api;
using Zk.Embedded.Tests.Support;
using Zk.Embedded.Wire.Client;

namespace Zk.Embedded.Tests.Wire;

/// <summary>
/// In-process sessions and the client port answer reads with one engine (Processing/ReadEngine): the same battery of
/// every read kind, with and without watches, over an in-process session and over <see cref="ZkClient"/> on the same
/// peer, gives the same results field by field, the same errors (code and path), and the same watch events.
/// </summary>
public sealed class ReadEngineParityTests
{
    private const string Root = "/battery";

    private static readonly Id Alice =
        new("digest", "alice:" + Convert.ToBase64String(SHA1.HashData(Encoding.UTF8.GetBytes("alice:pw"))));

    /// <summary>Each read of the battery: a name, and the read on a session whose own ephemeral is named by the tag.</summary>
    private static readonly (string Name, Func<IZooKeeper, string, Watcher, Task<object?>> Read)[] Battery =
    [
        ("exists", (zk, _, _) => Boxed(zk.ExistsAsync(Root + "/a"))),
        ("exists with a data watch", (zk, _, w) => Boxed(zk.ExistsAsync(Root + "/b", w))),
        ("exists of a missing node", (zk, _, _) => Boxed(zk.ExistsAsync(Root + "/later"))),
        ("exists of a missing node with an exist watch", (zk, _, w) => Boxed(zk.ExistsAsync(Root + "/later", w))),
        ("exists of a bad path", (zk, _, _) => Boxed(zk.ExistsAsync(Root + "/../a"))),
        ("getData", (zk, _, _) => Boxed(zk.GetDataAsync(Root))),
        ("getData with a watch", (zk, _, w) => Boxed(zk.GetDataAsync(Root + "/a", w))),
        ("getData of null data", (zk, _, _) => Boxed(zk.GetDataAsync(Root + "/b"))),
        ("getData of a missing node", (zk, _, w) => Boxed(zk.GetDataAsync(Root + "/none", w))),
        ("getData without READ", (zk, _, _) => Boxed(zk.GetDataAsync(Root + "/secret"))),
        ("getData of a bad path", (zk, _, _) => Boxed(zk.GetDataAsync(Root + "/./a"))),
        ("getChildren", (zk, _, _) => Boxed(zk.GetChildrenAsync(Root + "/a"))),
        ("getChildren with a watch", (zk, _, w) => Boxed(zk.GetChildrenAsync(Root, w))),
        ("getChildren without READ", (zk, _, _) => Boxed(zk.GetChildrenAsync(Root + "/secret"))),
        ("getChildren2", (zk, _, _) => Boxed(zk.GetChildrenWithStatAsync(Root))),
        ("getChildren2 of a missing node", (zk, _, _) => Boxed(zk.GetChildrenWithStatAsync(Root + "/none"))),
        ("getAllChildrenNumber", (zk, _, _) => Boxed(zk.GetAllChildrenNumberAsync(Root))),
        ("getAllChildrenNumber of a missing node", (zk, _, _) => Boxed(zk.GetAllChildrenNumberAsync(Root + "/none"))),
        ("getACL", (zk, _, _) => Boxed(zk.GetAclAsync(Root))),
        ("getACL with READ alone hides digests", (zk, _, _) => Boxed(zk.GetAclAsync(Root + "/shown"))),
        ("getACL without READ or ADMIN", (zk, _, _) => Boxed(zk.GetAclAsync(Root + "/secret"))),
        ("getEphemerals", async (zk, tag, _) => Own(await zk.GetEphemeralsAsync(Root + "/eph-" + tag), tag)),
        ("getEphemerals of another prefix", (zk, _, _) => Boxed(zk.GetEphemeralsAsync(Root + "/a"))),
        ("whoAmI", (zk, _, _) => Boxed(zk.WhoAmIAsync())),
        ("multiRead with failing ops", (zk, _, _) => Boxed(zk.MultiReadAsync(
            [Op.GetData(Root + "/a"), Op.GetChildren(Root + "/none"), Op.GetData(Root + "/secret"), Op.GetChildren(Root), Op.GetData(Root + "/b")]))),
    ];

    [Fact]
    public async Task Every_read_answers_the_same_in_process_and_over_the_wire_field_by_field()
    {
        await using var peer = await ZkPeer.StartAsync(new ZkPeerOptions { ClientPort = 0 });
        await using var admin = await peer.ConnectAsync();
        await using var local = await peer.ConnectAsync();
        await using var remote = await ZkClient.ConnectAsync($"127.0.0.1:{peer.ClientEndPoint!.Port}");
        await CreateTreeAsync(admin);
        await local.CreateAsync(Root + "/eph-local", null, Acl.OpenUnsafe, CreateMode.Ephemeral);
        await remote.CreateAsync(Root + "/eph-remote", null, Acl.OpenUnsafe, CreateMode.Ephemeral);
        var localEvents = new EventRecorder("in-process");
        var remoteEvents = new EventRecorder("wire");

        // Nothing the battery reads changes while it runs (the writes behind which the second pass queues its reads
        // touch only the session's own ephemeral's data), so every stat must match too. The first pass runs the
        // reads with nothing of the session outstanding, the second behind a write (answered as that write's reply
        // is queued): the same answers both ways.
        var localAnswers = await RunBatteryAsync(local, "local", localEvents.Watcher, behindAWrite: false);
        var answers = new[]
        {
            ("over the wire", await RunBatteryAsync(remote, "remote", remoteEvents.Watcher, behindAWrite: false)),
            ("in process behind a write", await RunBatteryAsync(local, "local", localEvents.Watcher, behindAWrite: true)),
            ("over the wire behind a write", await RunBatteryAsync(remote, "remote", remoteEvents.Watcher, behindAWrite: true)),
        };
        foreach (var (how, other) in answers)
        {
            for (var i = 0; i < Battery.Length; i++)
            {
                Assert.True(localAnswers[i] == other[i], $"{Battery[i].Name}: in process answered\n  {localAnswers[i]}\nbut {how}\n  {other[i]}");
            }
        }

        Assert.Contains("NoAuth", localAnswers[Array.FindIndex(Battery, c => c.Name == "getData without READ")], StringComparison.Ordinal);
        Assert.Contains("alice:x", localAnswers[Array.FindIndex(Battery, c => c.Name == "getACL with READ alone hides digests")], StringComparison.Ordinal);

        await admin.SetDataAsync(Root + "/a", [9]);
        await admin.CreateAsync(Root + "/later");
        await admin.DeleteAsync(Root + "/b");
        string[] expected =
        [
            $"NodeDataChanged {Root}/a", $"NodeCreated {Root}/later", $"NodeChildrenChanged {Root}", $"NodeDeleted {Root}/b",
        ];
        Assert.Equal(expected, await NodeEventsAsync(localEvents, expected.Length));
        Assert.Equal(expected, await NodeEventsAsync(remoteEvents, expected.Length));
    }

    private static async Task CreateTreeAsync(IZooKeeper admin)
    {
        await admin.CreateAsync(Root, "root"u8.ToArray(), Acl.OpenUnsafe, CreateMode.Persistent);
        await admin.CreateAsync(Root + "/a", "a"u8.ToArray(), Acl.OpenUnsafe, CreateMode.Persistent);
        await admin.CreateAsync(Root + "/a/x", [], Acl.OpenUnsafe, CreateMode.Persistent);
        await admin.CreateAsync(Root + "/b", null, Acl.OpenUnsafe, CreateMode.Persistent);
        await admin.CreateAsync(Root + "/secret", "s"u8.ToArray(), [new Acl(Perms.All, Alice)], CreateMode.Persistent);
        await admin.CreateAsync(Root + "/shown", null, [new Acl(Perms.Read, Id.Anyone), new Acl(Perms.All, Alice)], CreateMode.Persistent);
    }

    private static async Task<string[]> RunBatteryAsync(IZooKeeper zk, string tag, Watcher watcher, bool behindAWrite)
    {
        var answers = new string[Battery.Length];
        for (var i = 0; i < Battery.Length; i++)
        {
            var write = behindAWrite ? zk.SetDataAsync(Root + "/eph-" + tag, [(byte)i]).AsTask() : Task.CompletedTask;
            try
            {
                answers[i] = Render(await Battery[i].Read(zk, tag, watcher));
            }
            catch (ZkException e)
            {
                answers[i] = $"error {e.Code} path={e.Path ?? "-"}" + (e.Results is { } results ? " " + Render(results) : "");
            }

            await write;
        }

        return answers;
    }

    private static async Task<string[]> NodeEventsAsync(EventRecorder recorder, int count)
    {
        var events = await recorder.WaitForAsync(e => e.Count(x => x.Type != EventType.None) >= count, $"{count} node events");
        return events.Where(e => e.Type != EventType.None).Select(e => $"{e.Type} {e.Path}").ToArray();
    }

    /// <summary>The session's own ephemeral paths, with its tag replaced so both sessions' answers compare.</summary>
    private static object Own(IReadOnlyList<string> paths, string tag) => paths.Select(p => p.Replace(tag, "<own>", StringComparison.Ordinal)).ToArray();

    private static async Task<object?> Boxed<T>(ValueTask<T> read) => await read;

    /// <summary>Every field of a result, in a form two results compare by.</summary>
    private static string Render(object? value) => value switch
    {
        null => "null",
        Stat stat => stat.ToString(),
        DataResult d => $"data={Convert.ToHexString(d.Data.Span)} isNull={d.DataIsNull} {d.Stat}",
        ChildrenResult c => $"children=[{string.Join(",", c.Children)}] {c.Stat}",
        AclResult a => $"acl=[{string.Join(",", a.Acl)}] {a.Stat}",
        IReadOnlyList<OpResult> results => "[" + string.Join("; ", results.Select(RenderOp)) + "]",
        IReadOnlyList<string> paths => "[" + string.Join(",", paths) + "]",
        IReadOnlyList<ClientInfo> infos => "[" + string.Join(",", infos) + "]",
        int number => number.ToString(System.Globalization.CultureInfo.InvariantCulture),
        _ => throw new InvalidOperationException($"no rendering for {value.GetType().Name}"),
    };

    private static string RenderOp(OpResult result) => result switch
    {
        GetDataResult d => $"data={Convert.ToHexString(d.Data.Span)} isNull={d.DataIsNull} {d.Stat}",
        GetChildrenResult c => $"children=[{string.Join(",", c.Children)}]",
        _ => result.ToString()!,
    };
}
