using Microsoft.Extensions.Logging.Abstractions;
using Zk.Embedded.Api;
using Zk.Embedded.Processing;
using Zk.Embedded.Sessions;
using Zk.Embedded.Tree;
using Zk.Embedded.Watches;

namespace Zk.Embedded.Tests.Semantics;

/// <summary>
/// An in-process session whose createSession succeeds as its peer stops (the peer publishes its last committed txns
/// while it stops): the peer tells its sessions it stopped before this one was attached, so the handle must hear
/// Disconnected itself, not stay connected to a peer that will answer nothing (the deterministic simulator found a
/// watch-driven reader stuck so for ever, seed 195 of <c>SimulatedScenarioTests</c>).
/// </summary>
public sealed class ConnectWhileStoppingTests
{
    [Fact]
    public async Task A_session_created_as_its_peer_stops_hears_Disconnected_and_is_closed()
    {
        var pipeline = new HeldPipeline();
        var time = TimeProvider.System;
        var core = new PeerCore(pipeline, new WatchManager(), new SessionTracker(time, 1, new byte[32]), time, NullLogger.Instance, new ZkPeerOptions());
        var events = new List<WatchedEvent>();
        var connecting = core.ConnectAsync(new ZkSessionOptions { DefaultWatcher = e => { lock (events) events.Add(e); } }, CancellationToken.None).AsTask();
        var create = await pipeline.Submitted.WaitAsync(TimeSpan.FromSeconds(30));

        core.Stopped();
        create.Target!.Complete(new Reply(ZkErrorCode.Ok, null, null, new Zxid(1, 1), pipeline.State));
        // Not disposed: a close would wait for the held pipeline's answer, which never comes once the peer stopped.
        var zk = await connecting.WaitAsync(TimeSpan.FromSeconds(30));

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (zk.State != SessionState.Closed && DateTime.UtcNow < deadline)
            await Task.Delay(10);
        Assert.True(zk.State == SessionState.Closed, $"expected the handle closed once its peer had stopped, but it is {zk.State}");
        lock (events)
            Assert.Equal([KeeperState.SyncConnected, KeeperState.Disconnected], events.Select(e => e.State));
        var failure = await Assert.ThrowsAsync<ZkException>(async () => await zk.GetDataAsync("/"));
        Assert.Equal(ZkErrorCode.ConnectionLoss, failure.Code);
    }

    /// <summary>A pipeline that holds the one request it is given until the test answers it.</summary>
    private sealed class HeldPipeline : IPeerPipeline
    {
        private readonly TaskCompletionSource<PendingWrite> _submitted = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<PendingWrite> Submitted => _submitted.Task;

        public TreeState State { get; } = TreeState.CreateInitial();

        public TreeState FiringState => State;

        public string? NotServing => null;

        public Task<Exception> Faulted { get; } = new TaskCompletionSource<Exception>().Task;

        public ValueTask SubmitAsync(PendingWrite write, CancellationToken cancellationToken = default)
        {
            _submitted.TrySetResult(write);
            return ValueTask.CompletedTask;
        }

        public void Post(PendingWrite write) => _submitted.TrySetResult(write);

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
