using System.Globalization;
using Zk.Embedded.Api;
using Zk.Embedded.InProcess;
using Zk.Embedded.Sessions;
using Zk.Embedded.Tests.Support;
using Zk.Embedded.Tests.Wire;
using Zk.Embedded.Watches;
using Zk.Embedded.Wire.Jute;

namespace Zk.Embedded.Tests.Semantics;

/// <summary>
/// A read queued behind its session's outstanding write runs on the pipeline's publishing thread, right after that
/// write's reply (issue 11, point 7). A bad argument there must fail that read alone; it must never throw on the
/// publishing thread and stop the peer. A seam holds the write at publishing until the bad read is queued.
/// </summary>
public sealed class BadReadBehindAWriteTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    public static readonly TheoryData<string> InProcessCases =
    [
        "getData null", "getData empty", "getData relative", "exists null", "exists empty", "exists relative",
        "getChildren empty", "getChildren2 relative", "getACL empty", "getAllChildrenNumber relative", "getEphemerals null",
        "multiRead with a null op", "multiRead with a null path", "multiRead with a write op",
    ];

    [Theory]
    [MemberData(nameof(InProcessCases))]
    public async Task A_bad_in_process_read_queued_behind_a_write_fails_alone_and_the_peer_keeps_serving(string name)
    {
        await using var peer = await TestPeer.StartAsync();
        await using var zk = await peer.ConnectAsync();
        await using var other = await peer.ConnectAsync();
        await zk.CreateAsync("/gate");
        using var gate = new PublishGate(peer.Peer.Core.Watches);
        var write = zk.SetDataAsync("/gate", [1]).AsTask();
        await gate.WaitHeldAsync();

        var read = Start(() => InProcessRead(zk, name));
        gate.Release();

        await write.WaitAsync(Deadline);
        await AssertFailsAsExpected(name, read);
        await ZkTest.AssertServesAsync(other);
        await ZkTest.AssertServesAsync(zk);
    }

    [Theory]
    [InlineData("setWatches with a null path", ZkErrorCode.BadArguments)]
    [InlineData("setWatches with an empty path", ZkErrorCode.BadArguments)]
    [InlineData("setWatches with a relative path", ZkErrorCode.BadArguments)]
    [InlineData("setWatches2 with a null persistent path", ZkErrorCode.BadArguments)]
    [InlineData("getData empty", ZkErrorCode.BadArguments)]
    [InlineData("exists null", ZkErrorCode.BadArguments)]
    [InlineData("getChildren2 relative", ZkErrorCode.BadArguments)]
    [InlineData("multiRead with a write op", ZkErrorCode.MarshallingError)]
    public async Task A_bad_wire_read_queued_behind_a_write_fails_alone_and_the_peer_keeps_serving(string name, ZkErrorCode expected)
    {
        await using var peer = await ZkPeer.StartAsync(new ZkPeerOptions { ClientPort = 0 });
        await using var other = await peer.ConnectAsync();
        await other.CreateAsync("/gate");
        var (client, _) = await RawWireClient.ConnectAsync(peer.ClientEndPoint!);
        using var __ = client;
        using var gate = new PublishGate(peer.Core.Watches);
        client.SendRequest(1, OpCode.SetData, new SetDataRequest("/gate", [1], -1));
        await gate.WaitHeldAsync();
        SendWireRead(client, 2, name);
        // Both requests are in the server's hands (the read behind the write) before the write may publish.
        await WaitForOutstandingAsync(peer, 2);
        gate.Release();

        var (first, _) = client.ReceiveReply();
        Assert.True(first.Xid == 1 && first.Err == ZkErrorCode.Ok, $"expected the setData reply first, got xid {first.Xid} err {first.Err}");
        var (second, _) = client.ReceiveReply();
        Assert.True(second.Xid == 2 && second.Err == expected, $"expected {name} to fail with {expected}, got xid {second.Xid} err {second.Err}");
        await ZkTest.AssertServesAsync(other);
        client.SendRequest(3, OpCode.Exists, new ExistsRequest("/gate", false));
        Assert.Equal(ZkErrorCode.Ok, client.ReceiveReply().Header.Err);
    }

    [Fact]
    public async Task A_queued_read_that_throws_anyway_is_answered_MarshallingError_instead_of_throwing()
    {
        await using var peer = await TestPeer.StartAsync();
        var state = peer.Peer.Core.Pipeline.State;
        var read = new DeferredRead(_ => throw new InvalidOperationException("a bug in a read"));

        var outcome = read.RunNow(state, null);

        Assert.Equal(ZkErrorCode.MarshallingError, outcome.Reply.Error);
        Assert.Null(outcome.Watch);
    }

    private static Task<object?> InProcessRead(IZooKeeper zk, string name) => name switch
    {
        "getData null" => Boxed(zk.GetDataAsync(null!)),
        "getData empty" => Boxed(zk.GetDataAsync("")),
        "getData relative" => Boxed(zk.GetDataAsync("gate")),
        "exists null" => Boxed(zk.ExistsAsync(null!)),
        "exists empty" => Boxed(zk.ExistsAsync("", _ => { })),
        "exists relative" => Boxed(zk.ExistsAsync("/gate/../gate")),
        "getChildren empty" => Boxed(zk.GetChildrenAsync("", _ => { })),
        "getChildren2 relative" => Boxed(zk.GetChildrenWithStatAsync("./gate")),
        "getACL empty" => Boxed(zk.GetAclAsync("")),
        "getAllChildrenNumber relative" => Boxed(zk.GetAllChildrenNumberAsync("gate")),
        "getEphemerals null" => Boxed(zk.GetEphemeralsAsync(null!)),
        "multiRead with a null op" => Boxed(zk.MultiReadAsync([new GetDataOp("/gate"), null!])),
        "multiRead with a null path" => Boxed(zk.MultiReadAsync([new GetDataOp(null!)])),
        "multiRead with a write op" => Boxed(zk.MultiReadAsync([new SetDataOp("/gate", null, -1)])),
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, "no such case"),
    };

    /// <summary>
    /// The answer each case gets: a null op is the caller's mistake, refused at the API edge before it is queued
    /// (ArgumentNullException, as .NET callers expect); a bad path is ZooKeeper's BadArguments.
    /// </summary>
    private static async Task AssertFailsAsExpected(string name, Task<object?> read)
    {
        if (name == "multiRead with a null op")
        {
            var e = await Assert.ThrowsAsync<ArgumentNullException>(() => read.WaitAsync(Deadline));
            Assert.Equal("ops", e.ParamName);
        }
        else if (name == "multiRead with a null path")
        {
            var results = (IReadOnlyList<OpResult>)(await read.WaitAsync(Deadline))!;
            Assert.Equal([new ErrorResult(ZkErrorCode.BadArguments)], results);
        }
        else
        {
            await ZkTest.ThrowsAsync(ZkErrorCode.BadArguments, () => read.WaitAsync(Deadline));
        }
    }

    private static void SendWireRead(RawWireClient client, int xid, string name)
    {
        string[] none = [];
        switch (name)
        {
            case "setWatches with a null path":
                client.SendRequest(xid, OpCode.SetWatches, new SetWatches(0, ["/gate", null!], none, none));
                break;
            case "setWatches with an empty path":
                client.SendRequest(xid, OpCode.SetWatches, new SetWatches(0, none, [""], none));
                break;
            case "setWatches with a relative path":
                client.SendRequest(xid, OpCode.SetWatches, new SetWatches(0, none, ["gate"], none));
                break;
            case "setWatches2 with a null persistent path":
                client.SendRequest(xid, OpCode.SetWatches2, new SetWatches2(0, none, none, none, [null!], none));
                break;
            case "getData empty":
                client.SendRequest(xid, OpCode.GetData, new GetDataRequest("", true));
                break;
            case "exists null":
                client.SendRequest(xid, OpCode.Exists, new ExistsRequest(null, true));
                break;
            case "getChildren2 relative":
                client.SendRequest(xid, OpCode.GetChildren2, new GetChildrenRequest("gate", true));
                break;
            case "multiRead with a write op":
                client.SendRequest(xid, OpCode.MultiRead, new MultiOperationRecord([new MultiOp(OpCode.SetData, new SetDataOp("/gate", null, -1))]));
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(name), name, "no such case");
        }
    }

    /// <summary>Polls srvr's "Outstanding:" until the connection's requests are all taken in (public behaviour, no seam).</summary>
    private static async Task WaitForOutstandingAsync(ZkPeer peer, int expected)
    {
        var seen = -1;
        await Eventually.TrueAsync(
            () =>
            {
                using var admin = RawWireClient.OpenAsync(peer.ClientEndPoint!).GetAwaiter().GetResult();
                admin.SendRaw("srvr"u8);
                var line = admin.ReceiveTextToEnd().Split('\n').First(l => l.StartsWith("Outstanding: ", StringComparison.Ordinal));
                seen = int.Parse(line["Outstanding: ".Length..], CultureInfo.InvariantCulture);
                return seen == expected;
            },
            $"srvr to count {expected} outstanding requests (last saw {seen})");
    }

    private static Task<object?> Start(Func<Task<object?>> read)
    {
        try
        {
            return read();
        }
        catch (Exception e)
        {
            return Task.FromException<object?>(e);
        }
    }

    private static async Task<object?> Boxed<T>(ValueTask<T> read) => await read;

    /// <summary>Holds the publishing thread at the first change of /gate, before its watches fire, until released.</summary>
    private sealed class PublishGate : IDisposable
    {
        private readonly WatchManager _watches;
        private readonly ManualResetEventSlim _held = new();
        private readonly ManualResetEventSlim _released = new();
        private int _used;

        public PublishGate(WatchManager watches)
        {
            _watches = watches;
            watches.BeforeTrigger = path =>
            {
                if (path == "/gate" && Interlocked.Exchange(ref _used, 1) == 0)
                {
                    _held.Set();
                    _released.Wait(Deadline);
                }
            };
        }

        public Task WaitHeldAsync() =>
            Task.Run(() => Assert.True(_held.Wait(Deadline), "expected the write to /gate to reach publishing"));

        public void Release() => _released.Set();

        public void Dispose()
        {
            _released.Set();
            _watches.BeforeTrigger = null;
            _held.Dispose();
        }
    }
}
