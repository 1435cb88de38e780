using System.Text;
using Xunit.Abstractions;
using Zk.Embedded.Api;
using Zk.Testing.Simulation;
using Zk.Testing.History;

namespace Zk.Embedded.Tests.Consensus;

/// <summary>
/// Application code under the deterministic simulator, through its public entry point (<see cref="DeterministicEnsemble"/>
/// in Zk.Testing): real in-process sessions on the
/// simulated members, while the members crash, restart, lose their leader, are cut off and paused. A counter that
/// workers on every member increment with conditional setData (read, then write at the version read, again on
/// BadVersion) must end with every acknowledged increment and no more than the ones in doubt added, its history
/// linearizable (<see cref="OperationHistory"/>); an observer that follows the counter with data watches (reading it
/// again at each event) must come to its final value, across its member's lost leaders, SNAPs and restarts; and a seed
/// must replay the same run.
/// </summary>
public sealed class SimulatedScenarioTests(ITestOutputHelper output)
{
    private const int Workers = 3;
    private const int IncrementsEach = 4;

    [Fact]
    public void Seeded_counter_scenarios_keep_every_acknowledged_increment_and_a_linearizable_history()
    {
        var seeds = Environment.GetEnvironmentVariable("ZK_SIM_SEED") is { } one ? [int.Parse(one)] : Enumerable.Range(1, Runs());
        var (acknowledged, inDoubt, faults, steps, linearReads, moves) = (0, 0, 0, 0L, 0, 0);
        foreach (var seed in seeds)
        {
            var counter = new CounterScenario();
            SimulationResult run;
            try
            {
                run = DeterministicEnsemble.Run(seed, counter.RunAsync);
            }
            catch (SimulationFailedException e)
            {
                throw new Xunit.Sdk.XunitException($"seed {seed} (replay: ZK_SIM_SEED={seed}): {e.Message}\n{counter.Describe()}");
            }

            if (seeds.Count() == 1)
                output.WriteLine($"seed {seed}: trace hash {run.TraceHash}, {run.Steps} steps, {run.Faults} faults; the trace's end:\n{run.Trace}");
            var check = counter.History.Check();
            Assert.True(check.Passed, $"seed {seed}: the counter's history is not linearizable: {check}");
            Assert.True(counter.Final >= counter.Acknowledged && counter.Final <= counter.Acknowledged + counter.InDoubt,
                $"seed {seed}: expected the counter between {counter.Acknowledged} acknowledged increments and {counter.Acknowledged + counter.InDoubt} (with those in doubt), it is {counter.Final}; {counter.Describe()}");
            (acknowledged, inDoubt, faults, steps) = (acknowledged + counter.Acknowledged, inDoubt + counter.InDoubt, faults + run.Faults, steps + run.Steps);
            (linearReads, moves) = (linearReads + counter.LinearReads, moves + counter.Moves);
        }

        output.WriteLine($"{seeds.Count()} runs: {acknowledged} increments acknowledged, {inDoubt} in doubt, {linearReads} linearizable reads, {moves} sessions moved, {faults} faults, {steps} steps");
        Assert.True(acknowledged > 0, "expected some increments to be acknowledged");
        if (seeds.Count() > 1)
            Assert.True(linearReads > 0 && moves > 0, $"expected the runs to make linearizable reads and move sessions, they made {linearReads} and {moves}");
    }

    [Fact]
    public void Counter_scenarios_on_durable_storage_keep_every_acknowledged_increment()
    {
        var options = new DeterministicEnsembleOptions { DurableStorage = true, CrashProbability = 0.002 };
        var (acknowledged, faults) = (0, 0);
        for (var seed = 1; seed <= 12; seed++)
        {
            var counter = new CounterScenario();
            SimulationResult run;
            try
            {
                run = DeterministicEnsemble.Run(seed, async ensemble =>
                {
                    ConsensusSimulationTests.AssertOnTheLiteDbStore(ensemble.Simulation.Peers);   // what the option must reach
                    await counter.RunAsync(ensemble);
                }, options);
            }
            catch (SimulationFailedException e)
            {
                throw new Xunit.Sdk.XunitException($"seed {seed} on durable storage: {e.Message}\n{counter.Describe()}");
            }

            var check = counter.History.Check();
            Assert.True(check.Passed, $"seed {seed}: the counter's history is not linearizable: {check}");
            Assert.True(counter.Final >= counter.Acknowledged && counter.Final <= counter.Acknowledged + counter.InDoubt,
                $"seed {seed}: expected the counter between {counter.Acknowledged} and {counter.Acknowledged + counter.InDoubt}, it is {counter.Final}");
            (acknowledged, faults) = (acknowledged + counter.Acknowledged, faults + run.Faults);
        }

        output.WriteLine($"12 runs on durable storage: {acknowledged} increments acknowledged, {faults} faults");
        Assert.True(acknowledged > 0 && faults > 0, $"expected some increments acknowledged across faults, got {acknowledged} and {faults} faults");
    }

    [Fact]
    public void Linearizable_reads_without_the_read_index_are_caught_as_a_history_no_order_explains()
    {
        // Planted: LinearizableSyncAsync completes at once on any serving member. A member cut off from a new leader
        // serves the old value after newer increments were acknowledged; the check of the recorded history finds it.
        var options = new DeterministicEnsembleOptions { PlantedSkipReadIndex = true };
        for (var seed = 1; seed <= 200; seed++)
        {
            var counter = new CounterScenario();
            DeterministicEnsemble.Run(seed, counter.RunAsync, options);
            var check = counter.History.Check();
            if (!check.Passed)
            {
                output.WriteLine($"seed {seed} caught it: {check}");
                return;
            }
        }

        Assert.Fail("expected some seed of 200 to show a stale linearizable read once the read index is skipped");
    }

    [Fact]
    public void The_same_seed_replays_the_same_scenario_run()
    {
        var first = DeterministicEnsemble.Run(77, new CounterScenario().RunAsync);
        var again = DeterministicEnsemble.Run(77, new CounterScenario().RunAsync);
        var other = DeterministicEnsemble.Run(78, new CounterScenario().RunAsync);
        Assert.Equal(first.TraceHash, again.TraceHash);
        Assert.Equal(first.Steps, again.Steps);
        Assert.NotEqual(first.TraceHash, other.TraceHash);
    }

    [Fact]
    public void A_failing_scenario_names_its_seed_and_the_runs_last_events()
    {
        var failure = Assert.Throws<SimulationFailedException>(() => DeterministicEnsemble.Run(9, async ensemble =>
        {
            await ensemble.Delay(TimeSpan.FromMilliseconds(200));
            ensemble.Log("the scenario gives up");
            throw new InvalidOperationException("the recipe broke its invariant");
        }));
        Assert.Equal(9, failure.Seed);
        Assert.Contains("the recipe broke its invariant", failure.Message, StringComparison.Ordinal);
        Assert.Contains("the scenario gives up", failure.Trace, StringComparison.Ordinal);
    }

    [Fact]
    public void A_scenario_that_leaves_the_simulations_thread_fails_instead_of_running_unreplayably()
    {
        var failure = Assert.Throws<SimulationFailedException>(() => DeterministicEnsemble.Run(9, async ensemble =>
        {
            await Task.Run(() => Thread.Sleep(20));   // done on a thread-pool thread, which then posts the continuation
            await ensemble.Delay(TimeSpan.FromMilliseconds(10));
        }, new DeterministicEnsembleOptions { MaxSteps = 50_000_000 }));   // steps go on until the stray post arrives, however slow the pool
        Assert.Contains("left it", failure.Message, StringComparison.Ordinal);
    }

    private static int Runs() => int.TryParse(Environment.GetEnvironmentVariable("ZK_SIM_RUNS"), out var n) ? n : 20;

    /// <summary>Workers on every member increment /counter; each counts what was acknowledged and what is in doubt.</summary>
    private sealed class CounterScenario
    {
        private readonly List<string> _log = [];

        public OperationHistory History { get; } = new();
        public int Acknowledged { get; private set; }
        public int InDoubt { get; private set; }

        /// <summary>Reads preceded by a linearizable sync, and sessions moved to another member.</summary>
        public int LinearReads { get; private set; }
        public int Moves { get; private set; }
        public int Final { get; private set; }

        /// <summary>The newest value the observer read (after a watch event, or after a failure).</summary>
        public int Observed { get; private set; } = -1;
        private bool _done;

        public async Task RunAsync(SimulatedEnsemble sim)
        {
            var admin = await ConnectAsync(sim, "admin");
            while (true)
            {
                try
                {
                    await admin.CreateAsync("/counter", "0"u8.ToArray(), Acl.OpenUnsafe, CreateMode.Persistent);
                    break;
                }
                catch (ZkException e) when (e.Code == ZkErrorCode.NodeExists)
                {
                    break;   // an earlier attempt in doubt made it
                }
                catch (ZkException e) when (e.Code == ZkErrorCode.SessionMoved)
                {
                    Note(sim, $"admin: {e.Code}");   // refused: the leader had not learnt the move yet
                }
                catch (ZkException e) when (e.Code is ZkErrorCode.ConnectionLoss or ZkErrorCode.SessionExpired)
                {
                    admin = await ReconnectAfterAsync(sim, admin, e, "admin");
                }
            }

            var observer = ObserveAsync(sim);
            await Task.WhenAll(Enumerable.Range(0, Workers).Select(i => WorkAsync(sim, $"worker {i}")));
            Final = await ReadFinalAsync(sim);
            Note(sim, $"counter {Final}: {Acknowledged} acknowledged, {InDoubt} in doubt");
            // Its watch fires for the last increment (at once, or when its member serves again): it reads the final value.
            var deadline = sim.Now + ObserverDeadlineSteps;
            while (Observed != Final && sim.Now < deadline)
                await sim.Delay(TimeSpan.FromMilliseconds(10));
            _done = true;
            if (Observed != Final)
                throw new InvalidOperationException($"the observer still saw {Observed} {ObserverDeadlineSteps} steps after the counter reached {Final}: a data watch did not fire");
            await observer;
        }

        private const int ObserverDeadlineSteps = 20_000;

        /// <summary>
        /// Follows /counter as a watch-driven cache does: reads it with a data watch and reads again only when the watch
        /// fires, or on a new session. A session that loses its member's leader and gets it back keeps its watches (as
        /// a ZooKeeper client's come back with setWatches), so it does not read again for that.
        /// </summary>
        private async Task ObserveAsync(SimulatedEnsemble sim)
        {
            IZooKeeper? zk = null;
            while (!_done)
            {
                if (zk is null || zk.State is SessionState.Closed or SessionState.Expired)
                    zk = await ConnectAsync(sim, "observer");
                var fired = new TaskCompletionSource();
                try
                {
                    var read = await zk.GetDataAsync("/counter", e =>
                    {
                        if (e.Type != EventType.None)
                            fired.TrySetResult();
                    });
                    Observed = int.Parse(Encoding.UTF8.GetString(read.Data.Span));
                }
                catch (ZkException e) when (e.Code is ZkErrorCode.ConnectionLoss or ZkErrorCode.SessionExpired)
                {
                    Note(sim, $"observer: {e.Code}");
                    await sim.Delay(TimeSpan.FromMilliseconds(20));   // the read set no watch: read again
                    continue;
                }

                while (!_done && !fired.Task.IsCompleted && zk.State is not (SessionState.Closed or SessionState.Expired))
                    await Task.WhenAny(fired.Task, sim.Delay(TimeSpan.FromMilliseconds(50)));
            }
        }

        private async Task WorkAsync(SimulatedEnsemble sim, string name)
        {
            var zk = await ConnectAsync(sim, name);
            for (var done = 0; done < IncrementsEach;)
            {
                try
                {
                    if (sim.Random.Next(2) == 0)
                    {
                        await zk.LinearizableSyncAsync();   // the read below is then linearizable, and checked so
                        LinearReads++;
                    }

                    var read = await zk.GetDataAsync("/counter");
                    var value = int.Parse(Encoding.UTF8.GetString(read.Data.Span));
                    try
                    {
                        await zk.SetDataAsync("/counter", Encoding.UTF8.GetBytes((value + 1).ToString()), read.Stat.Version);
                        Acknowledged++;
                        done++;
                        Note(sim, $"{name} incremented to {value + 1}");
                    }
                    catch (ZkException e) when (e.Code == ZkErrorCode.ConnectionLoss)
                    {
                        InDoubt++;   // it may have been applied: counted as done, not as acknowledged
                        done++;
                        zk = await ReconnectAfterAsync(sim, zk, e, name);
                    }
                }
                catch (ZkException e) when (e.Code == ZkErrorCode.BadVersion)
                {
                    // Another worker got there first: read again.
                }
                catch (ZkException e) when (e.Code == ZkErrorCode.SessionMoved)
                {
                    // Refused, not applied: the leader had not learnt yet that the session moved here. Again.
                    Note(sim, $"{name}: {e.Code}");
                }
                catch (ZkException e) when (e.Code is ZkErrorCode.ConnectionLoss or ZkErrorCode.SessionExpired)
                {
                    zk = await ReconnectAfterAsync(sim, zk, e, name);
                }
            }
        }

        private async Task<int> ReadFinalAsync(SimulatedEnsemble sim)
        {
            var zk = await ConnectAsync(sim, "reader");
            while (true)
            {
                try
                {
                    await zk.SyncAsync("/counter");
                    return int.Parse(Encoding.UTF8.GetString((await zk.GetDataAsync("/counter")).Data.Span));
                }
                catch (ZkException e) when (e.Code is ZkErrorCode.ConnectionLoss or ZkErrorCode.SessionExpired)
                {
                    zk = await ReconnectAfterAsync(sim, zk, e, "reader");
                }
            }
        }

        /// <summary>A session on a member that serves, recorded; tries members in a seeded order until one takes it.</summary>
        private async Task<IZooKeeper> ConnectAsync(SimulatedEnsemble sim, string name)
        {
            while (true)
            {
                var member = sim.Members[sim.Random.Next(sim.Members.Count)];
                try
                {
                    var zk = History.Record(await sim.ConnectAsync(member));
                    Note(sim, $"{name} connected to {member}");
                    return zk;
                }
                catch (ZkException e) when (e.Code is ZkErrorCode.ConnectionLoss or ZkErrorCode.SessionExpired)
                {
                    await sim.Delay(TimeSpan.FromMilliseconds(20));
                }
            }
        }

        /// <summary>
        /// After a failure: the same session while it may still serve (its member lost its leader for a while), now and
        /// then moved to another member as a client with a multi-host connect string does; a new one once it cannot.
        /// </summary>
        private async Task<IZooKeeper> ReconnectAfterAsync(SimulatedEnsemble sim, IZooKeeper zk, ZkException e, string name)
        {
            Note(sim, $"{name}: {e.Code}");
            await sim.Delay(TimeSpan.FromMilliseconds(20));
            if (zk.State is not (SessionState.Connected or SessionState.Connecting))
                return await ConnectAsync(sim, name);
            if (sim.Random.Next(3) > 0)
                return zk;
            var member = sim.Members[sim.Random.Next(sim.Members.Count)];
            try
            {
                // The old handle is dropped, not closed: closing it would end the session it hands on.
                var moved = History.Record(await sim.ConnectAsync(member, new ZkSessionOptions
                {
                    SessionId = zk.SessionId, SessionPassword = zk.SessionPassword, LastZxidSeen = zk.LastZxidSeen,
                }));
                Moves++;
                Note(sim, $"{name} moved session {zk.SessionId:x} to {member}");
                return moved;
            }
            catch (ZkException refused) when (refused.Code is ZkErrorCode.ConnectionLoss or ZkErrorCode.SessionExpired)
            {
                Note(sim, $"{name} could not move to {member}: {refused.Code}");
                return refused.Code == ZkErrorCode.SessionExpired ? await ConnectAsync(sim, name) : zk;
            }
        }

        private void Note(SimulatedEnsemble sim, string line)
        {
            _log.Add($"[{sim.Now}] {line}");
            sim.Log(line);
        }

        public string Describe() => $"last of the scenario's log:\n  {string.Join("\n  ", _log.TakeLast(15))}";
    }
}
