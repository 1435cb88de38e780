using Zk.Testing;
using Zk.Embedded.Api;
using Zk.Embedded.Ensemble;
using Zk.Embedded.Processing;
using Zk.Embedded.Sessions;
using Zk.Embedded.Tests.Replication;

namespace Zk.Embedded.Tests.Ensemble;

/// <summary>What the ensemble tests do to members: find the leader, wait for quiescence, open a session, write.</summary>
internal static class EnsembleTestKit
{
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    /// <summary>The member that leads an established epoch, once one does; <paramref name="trace"/> explains a timeout.</summary>
    public static async Task<EnsembleMember> LeaderAsync(IEnumerable<EnsembleMember> members, Func<string> trace)
    {
        var list = members.ToList();
        using var cts = new CancellationTokenSource(Deadline);
        try
        {
            await await Task.WhenAny(list.Select(m => m.Driver.WaitUntilAsync(() => m.IsLeading, cts.Token)));
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"expected a leader within {Deadline}; trace: {trace()}");
        }

        return list.Single(m => m.IsLeading);
    }

    /// <summary>
    /// Waits on <paramref name="member"/>'s driver loop until <paramref name="condition"/> holds. A member whose driver
    /// stopped answers no wait, so its fault fails the wait at once, naming <paramref name="expectation"/> and, when
    /// given, <paramref name="context"/>; cancellation throws as the driver's wait does.
    /// </summary>
    public static async Task UntilAsync(EnsembleMember member, Func<bool> condition, string expectation, CancellationToken cancellationToken, Func<string>? context = null)
    {
        var reached = member.Driver.WaitUntilAsync(condition, cancellationToken);
        if (await Task.WhenAny(reached, member.Faulted) != reached)
            Assert.Fail($"expected {expectation}; its driver stopped: {await member.Faulted}{(context is null ? "" : "; " + context())}");
        await reached;
    }

    /// <summary>Waits until every member has published <paramref name="zxid"/>.</summary>
    public static async Task QuiescentAsync(IEnumerable<EnsembleMember> members, Zxid zxid)
    {
        var list = members.ToList();
        using var cts = new CancellationTokenSource(Deadline);
        foreach (var m in list)
        {
            try
            {
                await UntilAsync(m, () => m.State.Zxid >= zxid, $"server {m.Id} to publish zxid {zxid}", cts.Token);
            }
            catch (OperationCanceledException)
            {
                // Where each member stands: a member stuck outside broadcast shows its role and phase here.
                Assert.Fail($"expected server {m.Id} to publish zxid {zxid} within {Deadline}; it is at {m.State.Zxid}; members: "
                    + string.Join("; ", list.Select(o => $"server {o.Id} at {o.State.Zxid}, {o.Driver.Current}"
                        + (o.Faulted.IsCompleted ? $", driver stopped: {o.Faulted.Result.Message}" : ""))));
            }
        }
    }

    /// <summary>
    /// Each member's tree digest, all taken at one zxid, at least <paramref name="zxid"/>: a member can publish a txn
    /// just after another was read (the leader publishes beside its followers, a close ends in a later txn), and two
    /// trees at different zxids may rightly differ. Identical trees at the same zxid is the invariant.
    /// </summary>
    public static async Task<List<(int Id, Zxid Zxid, string Digest)>> DigestsAtOneZxidAsync(IEnumerable<EnsembleMember> members, Zxid zxid)
    {
        var list = members.ToList();
        var target = zxid;
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        while (true)
        {
            await QuiescentAsync(list, target);
            var states = list.Select(m => (m.Id, State: m.State)).ToList();
            var newest = states.Max(s => s.State.Zxid);
            if (states.All(s => s.State.Zxid == newest))
                return states.Select(s => (s.Id, s.State.Zxid, TreeDigest.Of(s.State))).ToList();
            Assert.True(System.Diagnostics.Stopwatch.GetElapsedTime(started) < Deadline,
                $"expected every member at one zxid within {Deadline}; they are at {string.Join(", ", states.Select(s => $"server {s.Id}: {s.State.Zxid}"))}");
            target = newest;
        }
    }

    /// <summary>Asserts that every member's tree is the same once they stand at one zxid, at least <paramref name="zxid"/>.</summary>
    public static async Task AssertIdenticalAsync(IEnumerable<EnsembleMember> members, Zxid zxid, string? context = null)
    {
        var digests = await DigestsAtOneZxidAsync(members, zxid);
        Assert.True(digests.Select(d => d.Digest).Distinct().Count() == 1,
            $"expected identical trees at zxid {digests[0].Zxid}, got {string.Join(", ", digests.Select(d => $"server {d.Id}: {d.Digest[..12]}"))}{context}");
    }

    /// <summary>A session created by a createSession txn through <paramref name="leader"/>.</summary>
    public static async Task<ServerSession> NewSessionAsync(EnsembleMember leader, Func<string> trace)
    {
        var id = leader.Sessions.NextSessionId();
        var session = new ServerSession(id, leader.Sessions.PasswordFor(id), 30_000, SessionTracker.LocalIds);
        leader.Sessions.Add(session);
        await WriteAsync(leader, session, new CreateSessionRequest(30_000), 0, trace);
        return session;
    }

    /// <summary>Writes through <paramref name="leader"/> and asserts success.</summary>
    public static async Task WriteAsync(EnsembleMember leader, ServerSession session, PipelineRequest request, int cxid, Func<string> trace)
    {
        var error = await SubmitAsync(leader, session, request, cxid);
        Assert.True(error == ZkErrorCode.Ok, $"expected {request.GetType().Name} (cxid {cxid}) on server {leader.Id} to succeed, got {error}; trace: {trace()}");
    }

    /// <summary>Writes through <paramref name="member"/>; the reply's error code, or the refusal's.</summary>
    public static async Task<ZkErrorCode> SubmitAsync(EnsembleMember member, ServerSession session, PipelineRequest request, int cxid)
    {
        var answer = new Answer();
        try
        {
            await member.SubmitAsync(new PendingWrite(session, request, answer, Cxid: cxid));
        }
        catch (ZkException e)
        {
            return e.Code;
        }

        return (await answer.Reply.WaitAsync(Deadline)).Error;
    }

    /// <summary>A reply target a test awaits.</summary>
    public sealed class Answer : IReplyTarget
    {
        private readonly TaskCompletionSource<Reply> _reply = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<Reply> Reply => _reply.Task;

        public void Complete(in Reply reply) => _reply.TrySetResult(reply);
    }
}
