using Microsoft.Extensions.Logging;
using Zk.Embedded.Api;
using Zk.Embedded.Recipes;
using Zk.Embedded.Tests.Support;

namespace Zk.Embedded.Tests.Recipes;

/// <summary>What the recipes tell an operator: lock and leadership changes with their fencing tokens, what they leave out.</summary>
public sealed class RecipeLoggingTests : RecipePeerTest
{
    [Fact]
    public async Task A_lock_lost_with_its_expired_session_is_logged_as_acquired_then_lost_with_its_fencing_token()
    {
        var log = new RecordingLogger();
        await using var holder = await Peer.ConnectAsync();
        var lease = await holder.AcquireLockAsync("/lock", log);
        var token = $"0x{lease.FencingToken:x}";
        await log.Entries.WaitForAsync(e => e.Any(x => x.Name == "LockAcquired"), "LockAcquired");

        await Peer.ExpireAsync(holder);

        await log.Entries.WaitForAsync(e => e.Any(x => x.Name == "HoldLost"), "HoldLost once the session expired");
        var acquired = Assert.Single(log.Entries.Values, e => e.Name == "LockAcquired");
        Assert.Contains(lease.NodePath, acquired.Message, StringComparison.Ordinal);
        Assert.Contains(token, acquired.Message, StringComparison.Ordinal);
        var lost = Assert.Single(log.Entries.Values, e => e.Name == "HoldLost");
        Assert.Equal(LogLevel.Warning, lost.Level);
        Assert.Contains(token, lost.Message, StringComparison.Ordinal);
        Assert.Contains("Expired", lost.Message, StringComparison.Ordinal);

        await lease.ReleaseAsync();
        var released = Assert.Single(log.Entries.Values, e => e.Name == "LockReleased");
        Assert.Contains("Lost before", released.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Leadership_passing_to_the_standby_is_logged_by_both_latches()
    {
        var activeLog = new RecordingLogger();
        var standbyLog = new RecordingLogger();
        await using var activeSession = await Peer.ConnectAsync();
        await using var standbySession = await Peer.ConnectAsync();
        await using var active = LeaderLatch.Start(activeSession, "/leader", "active", activeLog);
        var activeTerm = await active.WaitForLeadershipAsync().WaitAsync(TimeSpan.FromSeconds(10));
        await using var standby = LeaderLatch.Start(standbySession, "/leader", "standby", standbyLog);
        await Eventually.TrueAsync(() => Peer.Peer.NodeCount >= 4, "the standby's latch node");

        await Peer.ExpireAsync(activeSession);

        var standbyTerm = await standby.WaitForLeadershipAsync().WaitAsync(TimeSpan.FromSeconds(10));
        await activeLog.Entries.WaitForAsync(e => e.Any(x => x.Name == "LatchStopped"), "the expired latch to log that it stopped");
        var names = activeLog.Entries.Values.Select(e => e.Name).ToList();
        Assert.True(names.IndexOf("LeadershipGained") < names.IndexOf("LeadershipEnded"), $"gained before ended, saw {string.Join(", ", names)}");
        Assert.Contains($"0x{activeTerm.FencingToken:x}", activeLog.Entries.Values.Single(e => e.Name == "LeadershipEnded").Message, StringComparison.Ordinal);
        var gained = Assert.Single(standbyLog.Entries.Values, e => e.Name == "LeadershipGained");
        Assert.Contains("standby leads /leader", gained.Message, StringComparison.Ordinal);
        Assert.Contains($"0x{standbyTerm.FencingToken:x}", gained.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_service_child_that_is_not_an_instance_is_left_out_of_the_view_and_logged()
    {
        var log = new RecordingLogger();
        await using var zk = await Peer.ConnectAsync();
        await zk.RegisterAsync("/services", new ServiceInstance("billing", "good", "10.0.0.1", 8080));
        await zk.CreateAsync("/services/billing/stray", data: "not json"u8.ToArray());

        await using var cache = await ServiceCache.StartAsync(zk, "/services", "billing", log);

        Assert.Equal(["good"], cache.Instances.Select(i => i.Id));
        var unreadable = Assert.Single(log.Entries.Values, e => e.Name == "InstanceUnreadable");
        Assert.Contains("/services/billing/stray", unreadable.Message, StringComparison.Ordinal);

        // Reloads for other changes do not repeat it; a new version of the same child is logged again.
        await using (await zk.RegisterAsync("/services", new ServiceInstance("billing", "second", "10.0.0.2", 8080)))
            await Eventually.TrueAsync(() => cache.Instances.Count == 2, "the second instance in the view");
        await Eventually.TrueAsync(() => cache.Instances.Count == 1, "the second instance gone from the view");
        Assert.Single(log.Entries.Values, e => e.Name == "InstanceUnreadable");
        await zk.SetDataAsync("/services/billing/stray", "still not json"u8.ToArray());
        await Eventually.TrueAsync(() => log.Entries.Values.Count(e => e.Name == "InstanceUnreadable") == 2, "the changed stray child logged once more");
    }

    /// <summary>One logged entry: the event's name (the contract), its level and the formatted message.</summary>
    private sealed record Entry(string? Name, LogLevel Level, string Message);

    private sealed class RecordingLogger : ILogger
    {
        public ValueRecorder<Entry> Entries { get; } = new("log entries");

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Entries.Add(new Entry(eventId.Name, logLevel, formatter(state, exception)));
    }
}
