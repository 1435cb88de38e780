using Xunit.Abstractions;
using Zk.Embedded.Api;
using Zk.Embedded.Recipes;
using Zk.Embedded.Tests.Support;

namespace Zk.Embedded.Tests.Recipes;

/// <summary>The exclusive lock on in-process sessions: Curator's protocol, waiting, giving up, loss, fencing.</summary>
public sealed class LockTests(ITestOutputHelper output) : RecipePeerTest
{
    [Fact]
    public async Task A_lock_node_is_named_as_Curator_names_it_under_container_parents()
    {
        await using var zk = await Peer.ConnectAsync();
        await using (var lease = await zk.AcquireLockAsync("/locks/report"))
        {
            Assert.Matches(CuratorNames.LockNode(), ZkPaths.NameOf(lease.NodePath));
            Assert.StartsWith("/locks/report/", lease.NodePath, StringComparison.Ordinal);
            var node = await zk.StatAsync(lease.NodePath);
            Assert.Equal(zk.SessionId, node.EphemeralOwner);
            Assert.Equal(node.Czxid, lease.FencingToken);
            Assert.Equal(HoldState.Held, lease.State);
        }

        Assert.Empty(await zk.GetChildrenAsync("/locks/report"));
    }

    [Fact]
    public async Task A_second_session_waits_until_the_holder_releases_and_then_holds_with_a_larger_fencing_token()
    {
        await using var first = await Peer.ConnectAsync();
        await using var second = await Peer.ConnectAsync();
        var held = await first.AcquireLockAsync("/lock");
        var waiting = second.AcquireLockAsync("/lock").AsTask();
        await Eventually.TrueAsync(() => Peer.Peer.NodeCount >= 4, "the second contender's node under /lock");
        Assert.False(waiting.IsCompleted, "the second session must wait while the first holds");
        Assert.Null(await second.TryAcquireLockAsync("/lock", TimeSpan.Zero));

        await held.ReleaseAsync();
        Assert.True(held.Lost.IsCancellationRequested, "a released lease's token is canceled");
        await using var next = await waiting.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(next.FencingToken > held.FencingToken, $"expected token {next.FencingToken} > {held.FencingToken}");
        Assert.Equal([ZkPaths.NameOf(next.NodePath)], await first.GetChildrenAsync("/lock"));
    }

    [Fact]
    public async Task A_waiter_that_times_out_or_is_canceled_leaves_no_node_behind()
    {
        await using var holder = await Peer.ConnectAsync();
        await using var waiter = await Peer.ConnectAsync();
        await using var lease = await holder.AcquireLockAsync("/lock");

        Assert.Null(await waiter.TryAcquireLockAsync("/lock", TimeSpan.FromMilliseconds(50)));
        using var cancel = new CancellationTokenSource();
        var canceled = waiter.AcquireLockAsync("/lock", cancel.Token).AsTask();
        await Eventually.TrueAsync(() => Peer.Peer.NodeCount >= 4, "the canceled waiter's node under /lock");
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => canceled);

        Assert.Equal([ZkPaths.NameOf(lease.NodePath)], await holder.GetChildrenAsync("/lock"));
        Assert.Empty(await waiter.GetEphemeralsAsync());
    }

    [Fact]
    public async Task Each_waiter_watches_only_its_predecessor_so_a_release_wakes_one_waiter()
    {
        var sessions = new List<IZooKeeper>();
        for (var i = 0; i < 5; i++)
        {
            sessions.Add(await Peer.ConnectAsync());
        }

        var holder = await sessions[0].AcquireLockAsync("/lock");
        var waiters = sessions.Skip(1).Select(s => s.AcquireLockAsync("/lock").AsTask()).ToArray();
        await Eventually.TrueAsync(() => Peer.Peer.NodeCount >= 8, "four waiting contenders under /lock");
        var children = SequentialContender.Sort(await sessions[0].GetChildrenAsync("/lock"), "lock-");
        Assert.Equal(ZkPaths.NameOf(holder.NodePath), children[0]);

        // Every node but the last is watched by the one contender behind it; the holder's also by its holder (loss watch).
        var expected = children.Select((child, i) => ("/lock/" + child, i == 0 ? 2 : i < children.Count - 1 ? 1 : 0)).ToArray();
        await Eventually.TrueAsync(
            () =>
            {
                var watches = Peer.Peer.Core.Watches.Snapshot().ToDictionary(w => w.Path, w => w.Sessions.Length);
                return expected.All(e => watches.GetValueOrDefault(e.Item1) == e.Item2);
            },
            $"watchers per lock node in order: {string.Join(", ", expected.Select(e => e.Item2))}");

        await holder.ReleaseAsync();
        var first = await Task.WhenAny(waiters).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(children[1], ZkPaths.NameOf((await first).NodePath));
        Assert.Equal(1, waiters.Count(w => w.IsCompleted));
        foreach (var waiter in waiters)
        {
            await (await waiter).ReleaseAsync();
        }

        foreach (var session in sessions)
        {
            await session.DisposeAsync();
        }
    }

    [Fact]
    public async Task Sixteen_sessions_contending_hold_one_at_a_time_with_growing_fencing_tokens()
    {
        var seed = RecipeTestKit.Next(output);
        var register = new FencedRegister();
        await using var sessions = await ConnectManyAsync(16);
        await Task.WhenAll(sessions.Select((zk, i) => Task.Run(() => RecipeTestKit.HoldInTurnsAsync(zk, "/contended", register, new Random(seed + i), 5))));

        Assert.Equal(80, register.Writes);
        Assert.Empty(await sessions[0].GetChildrenAsync("/contended"));
    }

    [Fact]
    public async Task When_the_holders_session_expires_its_lease_is_lost_and_the_waiter_takes_over()
    {
        await using var holder = await Peer.ConnectAsync();
        await using var waiter = await Peer.ConnectAsync();
        var lease = await holder.AcquireLockAsync("/lock");
        var next = waiter.AcquireLockAsync("/lock").AsTask();

        await Peer.ExpireAsync(holder);

        await Eventually.TrueAsync(() => lease.Lost.IsCancellationRequested, "the expired holder's Lost token to be canceled");
        Assert.Equal(HoldState.Lost, lease.State);
        Assert.Contains("Expired", lease.LossReason, StringComparison.Ordinal);
        await using var taken = await next.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(taken.FencingToken > lease.FencingToken, $"expected the new holder's token {taken.FencingToken} > {lease.FencingToken}");
        await lease.ReleaseAsync(); // Nothing left to delete; must not throw.
    }

    [Fact]
    public async Task When_the_holders_session_is_closed_the_waiter_takes_over()
    {
        var holder = await Peer.ConnectAsync();
        await using var waiter = await Peer.ConnectAsync();
        var lease = await holder.AcquireLockAsync("/lock");
        var next = waiter.AcquireLockAsync("/lock").AsTask();

        await holder.CloseAsync();

        await using var taken = await next.WaitAsync(TimeSpan.FromSeconds(10));
        await Eventually.TrueAsync(() => lease.State == HoldState.Lost, "the closed holder's lease to be lost");
    }

    [Fact]
    public async Task A_deleted_lock_node_makes_the_lease_lost()
    {
        await using var holder = await Peer.ConnectAsync();
        await using var admin = await Peer.ConnectAsync();
        await using var lease = await holder.AcquireLockAsync("/lock");
        var states = new ValueRecorder<HoldState>("lease states");
        lease.StateChanged += states.Add;

        await admin.DeleteAsync(lease.NodePath);

        await states.WaitForAsync(seen => seen.SequenceEqual([HoldState.Lost]), "Lost once its node is deleted");
        Assert.True(lease.Lost.IsCancellationRequested);
        Assert.Contains("deleted", lease.LossReason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_create_whose_reply_is_lost_finds_its_own_node_instead_of_making_a_second()
    {
        await using var real = await Peer.ConnectAsync();
        var faulty = FaultySession.Wrap(real, createFaults: 1);

        await using var lease = await faulty.AcquireLockAsync("/lock");

        Assert.Equal(1, FaultySession.Of(faulty).FaultedCreates);
        Assert.Equal([ZkPaths.NameOf(lease.NodePath)], await real.GetChildrenAsync("/lock"));
        Assert.Equal((await real.StatAsync(lease.NodePath)).Czxid, lease.FencingToken);
    }

    [Fact]
    public async Task Nodes_sort_by_their_sequence_suffix_whatever_their_uuid_prefix()
    {
        var sorted = SequentialContender.Sort(["_c_ffff-lock-0000000003", "_c_0000-lock-0000000010", "_c_aaaa-lock-0000000001", "other"], "lock-");
        Assert.Equal(["_c_aaaa-lock-0000000001", "_c_ffff-lock-0000000003", "_c_0000-lock-0000000010", "other"], sorted);
    }

    [Fact]
    public async Task Acquiring_on_an_ended_session_fails_with_SessionExpired_and_a_bad_path_with_ArgumentException()
    {
        var zk = await Peer.ConnectAsync();
        await Assert.ThrowsAsync<ArgumentException>(async () => await zk.AcquireLockAsync("relative"));
        await Assert.ThrowsAsync<ArgumentException>(async () => await zk.AcquireLockAsync("/trailing/"));
        await zk.CloseAsync();
        await ZkTest.ThrowsAsync(ZkErrorCode.SessionExpired, async () => await zk.AcquireLockAsync("/lock"));
    }
}
