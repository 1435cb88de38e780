using Xunit.Abstractions;
using Zk.Embedded.Api;
using Zk.Embedded.Recipes;
using Zk.Embedded.Tests.Support;

namespace Zk.Embedded.Tests.Recipes;

/// <summary>
/// Lock, read-write lock, semaphore and leader latch on a three-member in-memory ensemble, with sessions on every
/// member: contention across members, a holder whose session is killed or whose member crashes replaced by a waiter,
/// a <see cref="FencedRegister"/> showing no two holders act at once, and waiters that give up leaving no znodes.
/// </summary>
// Alone: a three-voter ensemble with a short tick loses its quorum when parallel tests starve a follower.
[Collection(RunsAlone.Name)]
public sealed class EnsembleLockFailureTests(ITestOutputHelper output) : EnsembleRecipeTest(output)
{
    [Fact]
    public async Task Sessions_on_every_member_contending_for_a_lock_hold_it_one_at_a_time_with_growing_tokens()
    {
        var seed = RecipeTestKit.Next(Output);
        var register = new FencedRegister();
        var sessions = await Task.WhenAll(Enumerable.Range(0, 6).Select(i => ConnectAsync(Ensemble.Ids[i % 3]).AsTask()));
        await Task.WhenAll(sessions.Select((zk, i) => Task.Run(() => RecipeTestKit.HoldInTurnsAsync(zk, "/contended", register, new Random(seed + i), 4))));

        Assert.Equal(24, register.Writes);
        Assert.Empty(await ChildrenEverywhereAsync("/contended"));
        foreach (var zk in sessions)
        {
            await zk.DisposeAsync();
        }
    }

    [Fact]
    public async Task When_the_lock_holders_member_crashes_a_waiter_elsewhere_takes_over_and_the_old_token_is_refused()
    {
        var (a, b, leader) = Members();
        var holder = await ConnectAsync(a);
        await using var waiter = await ConnectAsync(b);
        await using var quitter = await ConnectAsync(leader);
        var register = new FencedRegister();
        var lease = await holder.AcquireLockAsync("/lock");
        Assert.True(register.TryWrite(lease.FencingToken), "the first holder's write is accepted");
        var next = waiter.AcquireLockAsync("/lock").AsTask();
        Assert.Null(await quitter.TryAcquireLockAsync("/lock", TimeSpan.FromMilliseconds(100)));

        await CrashMemberOfAsync(a, holder);

        await using var taken = await next.WaitAsync(Deadline);
        Assert.True(register.TryWrite(taken.FencingToken), "the new holder's write is accepted");
        Assert.False(register.TryWrite(lease.FencingToken), "the crashed holder's late write must be refused");
        // The holder hears nothing from its dead member: it must find out by itself once the session timeout passes.
        await Eventually.TrueAsync(() => lease.State == HoldState.Lost, "the cut-off holder's lease to be lost", Deadline);
        Assert.Equal([ZkPaths.NameOf(taken.NodePath)], await ChildrenEverywhereAsync("/lock"));
        await holder.DisposeAsync();
    }

    [Fact]
    public async Task When_a_holders_session_is_killed_under_contention_the_others_go_on_and_its_token_is_refused()
    {
        var seed = RecipeTestKit.Next(Output);
        var (a, b, leader) = Members();
        var register = new FencedRegister();
        var victim = await ConnectAsync(a);
        var lost = await victim.AcquireLockAsync("/contended");
        Assert.True(register.TryWrite(lost.FencingToken), "the victim's write is accepted while it holds");
        var sessions = await Task.WhenAll(new[] { a, b, leader, b }.Select(id => ConnectAsync(id).AsTask()));
        var contenders = sessions.Select((zk, i) => Task.Run(() => RecipeTestKit.HoldInTurnsAsync(zk, "/contended", register, new Random(seed + i), 3))).ToArray();
        await RecipeTestKit.WaitForChildrenAsync(sessions[1], "/contended", 5);

        await KillSessionAsync(victim);

        await Task.WhenAll(contenders).WaitAsync(Deadline);
        Assert.Equal(1 + 12, register.Writes);
        Assert.False(register.TryWrite(lost.FencingToken), "the killed holder's write after the others held must be refused");
        Assert.Empty(await ChildrenEverywhereAsync("/contended"));
        await Eventually.TrueAsync(() => lost.State == HoldState.Lost, "the killed holder's lease to be lost", Deadline);
        foreach (var zk in sessions.Append(victim))
        {
            await zk.DisposeAsync();
        }
    }

    [Fact]
    public async Task When_the_writers_member_crashes_readers_elsewhere_share_the_lock_and_a_writer_that_gave_up_left_nothing()
    {
        var (a, b, leader) = Members();
        var writer = await ConnectAsync(a);
        await using var reader1 = await ConnectAsync(b);
        await using var reader2 = await ConnectAsync(leader);
        var write = await writer.AcquireWriteLockAsync("/rw");
        var reads = new[] { reader1.AcquireReadLockAsync("/rw").AsTask(), reader2.AcquireReadLockAsync("/rw").AsTask() };
        Assert.Null(await reader2.TryAcquireWriteLockAsync("/rw", TimeSpan.FromMilliseconds(100)));
        await RecipeTestKit.WaitForChildrenAsync(reader1, "/rw", 3);

        await CrashMemberOfAsync(a, writer);

        var held = await Task.WhenAll(reads).WaitAsync(Deadline);
        Assert.All(held, lease => Assert.Equal(HoldState.Held, lease.State));
        Assert.Equal(2, (await ChildrenEverywhereAsync("/rw")).Length);
        await Eventually.TrueAsync(() => write.State == HoldState.Lost, "the cut-off writer's lease to be lost", Deadline);
        foreach (var lease in held)
        {
            await lease.ReleaseAsync();
        }

        Assert.Empty(await ChildrenEverywhereAsync("/rw"));
        await writer.DisposeAsync();
    }

    [Fact]
    public async Task A_semaphore_lease_whose_session_is_killed_goes_to_a_waiter_while_the_other_stays_and_a_quitter_leaves_nothing()
    {
        var (a, b, leader) = Members();
        var first = await ConnectAsync(a);
        await using var second = await ConnectAsync(b);
        await using var waiter = await ConnectAsync(leader);
        await using var quitter = await ConnectAsync(b);
        var lost = await first.AcquireSemaphoreAsync("/pool", 2);
        await using var kept = await second.AcquireSemaphoreAsync("/pool", 2);
        Assert.Null(await quitter.TryAcquireSemaphoreAsync("/pool", 2, TimeSpan.FromMilliseconds(100)));
        var next = waiter.AcquireSemaphoreAsync("/pool", 2).AsTask();
        await RecipeTestKit.WaitForChildrenAsync(waiter, "/pool/locks", 1);
        Assert.False(next.IsCompleted, "a third lease must wait while two are held");

        await KillSessionAsync(first);

        await using var taken = await next.WaitAsync(Deadline);
        var leases = await ChildrenEverywhereAsync("/pool/leases");
        Assert.Equal(new[] { kept, taken }.Select(l => ZkPaths.NameOf(l.NodePath)).Order(StringComparer.Ordinal), leases);
        Assert.Empty(await ChildrenEverywhereAsync("/pool/locks"));
        await Eventually.TrueAsync(() => lost.State == HoldState.Lost, "the killed session's lease to be lost", Deadline);
        await first.DisposeAsync();
    }

    [Fact]
    public async Task When_the_active_ones_member_crashes_the_standby_leads_with_a_larger_token_the_register_accepts_alone()
    {
        var (a, b, leader) = Members();
        var activeSession = await ConnectAsync(a);
        await using var standbySession = await ConnectAsync(b);
        await using var thirdSession = await ConnectAsync(leader);
        var register = new FencedRegister();
        var active = LeaderLatch.Start(activeSession, "/service/leader", "active");
        var activeTerm = await active.WaitForLeadershipAsync().WaitAsync(Deadline);
        await using var standby = LeaderLatch.Start(standbySession, "/service/leader", "standby");
        await RecipeTestKit.WaitForChildrenAsync(standbySession, "/service/leader", 2);
        await using var third = LeaderLatch.Start(thirdSession, "/service/leader", "third");
        await RecipeTestKit.WaitForChildrenAsync(standbySession, "/service/leader", 3);
        Assert.True(register.TryWrite(activeTerm.FencingToken), "the active leader's write is accepted");

        await CrashMemberOfAsync(a, activeSession);

        var standbyTerm = await standby.WaitForLeadershipAsync().WaitAsync(Deadline);
        Assert.True(standbyTerm.FencingToken > activeTerm.FencingToken, $"expected token {standbyTerm.FencingToken} > {activeTerm.FencingToken}");
        Assert.True(register.TryWrite(standbyTerm.FencingToken), "the standby's write is accepted");
        Assert.False(register.TryWrite(activeTerm.FencingToken), "the deposed leader's late write must be refused");
        Assert.False(third.HasLeadership, "only the standby, next in line, leads");
        await Eventually.TrueAsync(() => !active.HasLeadership && activeTerm.Ended.IsCancellationRequested, "the cut-off leader's term to end", Deadline);
        Assert.Equal(2, (await ChildrenEverywhereAsync("/service/leader")).Length);
        await active.DisposeAsync();
        await activeSession.DisposeAsync();
    }

    [Fact]
    public async Task An_ensemble_leader_failover_suspends_the_term_and_the_same_participant_leads_again_with_its_token()
    {
        var (a, b, _) = Members();
        await using var activeSession = await ConnectAsync(a);
        await using var standbySession = await ConnectAsync(b);
        await using var active = LeaderLatch.Start(activeSession, "/leader", "active");
        var before = await active.WaitForLeadershipAsync().WaitAsync(Deadline);
        await using var standby = LeaderLatch.Start(standbySession, "/leader", "standby");
        var standbyElections = new ValueRecorder<long>("standby elections");
        standby.Elected += term => standbyElections.Add(term.FencingToken);
        await RecipeTestKit.WaitForChildrenAsync(standbySession, "/leader", 2);

        await FailOverAsync();

        await Eventually.TrueAsync(() => before.Ended.IsCancellationRequested, "the term to end while the member had no leader", Deadline);
        await Eventually.TrueAsync(() => active.CurrentTerm is { } term && term != before, "the same participant to lead again", Deadline);
        Assert.Equal(before.FencingToken, active.CurrentTerm!.FencingToken);
        Assert.Empty(standbyElections.Values);
        Assert.False(active.IsStopped || standby.IsStopped, "both latches go on: their sessions survived the failover");
    }
}
