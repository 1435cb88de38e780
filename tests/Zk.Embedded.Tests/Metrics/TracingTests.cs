using System.Diagnostics;
using Zk.Embedded.Api;
using Zk.Embedded.Tests.Storage;
using Zk.Embedded.Wire.Client;

namespace Zk.Embedded.Tests.Metrics;

/// <summary>
/// The "Zk.Embedded" ActivitySource: spans for writes (in process and over the wire) and commits. Other tests run
/// at the same time, so spans are picked out by this test's session ids and zxids.
/// </summary>
public sealed class TracingTests : IDisposable
{
    private readonly SpanRecorder _spans = new();

    public void Dispose() => _spans.Dispose();

    private List<Activity> Spans(string name, long sessionId) =>
        _spans.Stopped.Where(a => a.OperationName == name && a.GetTagItem("zk.session_id") is long id && id == sessionId).ToList();

    [Fact]
    public async Task An_in_process_write_is_a_span_under_the_callers_trace_with_its_result_and_zxid()
    {
        using var dir = new TempDirectory();
        await using var peer = await ZkPeer.StartAsync(new ZkPeerOptions { DataDir = dir.Path });
        await using var zk = await peer.ConnectAsync();
        using var caller = new ActivitySource("test.caller");
        using var callerListener = new ActivityListener { ShouldListenTo = s => s.Name == "test.caller", Sample = static (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded };
        ActivitySource.AddActivityListener(callerListener);

        Activity? outer;
        using (outer = caller.StartActivity("handle request"))
        {
            await zk.CreateAsync("/traced", [], Acl.OpenUnsafe, CreateMode.Persistent);
            await Assert.ThrowsAsync<ZkException>(async () => await zk.CreateAsync("/traced", [], Acl.OpenUnsafe, CreateMode.Persistent));
        }

        var creates = Spans("zk create", zk.SessionId);
        Assert.True(creates.Count == 2, $"expected 2 create spans of session 0x{zk.SessionId:x}, saw {creates.Count}");
        Assert.All(creates, s => Assert.Equal(outer!.TraceId, s.TraceId));
        Assert.Equal("Ok", creates[0].GetTagItem("zk.result"));
        var zxid = (long)creates[0].GetTagItem("zk.zxid")!;
        Assert.Equal((await zk.ExistsAsync("/traced"))!.Value.Czxid, zxid);
        Assert.Equal("NodeExists", creates[1].GetTagItem("zk.result"));
        Assert.Equal(ActivityStatusCode.Error, creates[1].Status);

        Assert.Contains(_spans.Stopped, a => a.OperationName == "zk commit" && a.Parent is null
            && (long)a.GetTagItem("zk.zxid.first")! <= zxid && zxid <= (long)a.GetTagItem("zk.zxid.last")!);
    }

    [Fact]
    public async Task A_write_over_the_wire_is_a_server_span()
    {
        await using var peer = await ZkPeer.StartAsync(new ZkPeerOptions { ClientPort = 0 });
        await using var client = await ZkClient.ConnectAsync($"127.0.0.1:{peer.ClientEndPoint!.Port}");
        await client.CreateAsync("/wire-traced", [], Acl.OpenUnsafe, CreateMode.Persistent);
        await client.SetDataAsync("/wire-traced", [1], -1);

        await Support.Eventually.TrueAsync(() => Spans("zk setData", client.SessionId).Count == 1, "a setData span for the wire session");
        var set = Spans("zk setData", client.SessionId)[0];
        Assert.Equal(ActivityKind.Server, set.Kind);
        Assert.Equal("Ok", set.GetTagItem("zk.result"));
        Assert.Single(Spans("zk create", client.SessionId));
    }
}
