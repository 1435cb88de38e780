namespace Zk.Testing.Simulation;

/// <summary>How a <see cref="DeterministicEnsemble"/> run is made and how often it fails.</summary>
public sealed record DeterministicEnsembleOptions
{
    /// <summary>Voting members (3 or 5 in most tests).</summary>
    public int Voters { get; init; } = 3;

    /// <summary>Observers: members that follow the leader without voting.</summary>
    public int Observers { get; init; }

    /// <summary>
    /// Per step (a millisecond of the simulation's clock): a member crashes, losing what it had not synced, and its
    /// sessions die with it; it restarts later from its disk. Kept low by default: sessions should live through most
    /// of the run.
    /// </summary>
    public double CrashProbability { get; init; } = 0.0005;

    /// <summary>Per step: a member is cut off from the others (both ways, or one way) until a later heal.</summary>
    public double PartitionProbability { get; init; } = 0.004;

    /// <summary>Per step: the partitions heal.</summary>
    public double HealProbability { get; init; } = 0.004;

    /// <summary>Per message delivered: it is lost instead.</summary>
    public double DropProbability { get; init; } = 0.01;

    /// <summary>
    /// Per step: a member pauses (a long GC), its clock stalls or jumps, or its disk slows down, for a while.
    /// </summary>
    public double LongFaultProbability { get; init; } = 0.004;

    /// <summary>
    /// Committed txns the leader keeps to bring a learner up to date by DIFF; one further behind gets a SNAP.
    /// Small by default, so the run exercises SNAP too (ZooKeeper's default is 500).
    /// </summary>
    public int CommittedLogWindow { get; init; } = 8;

    /// <summary>Steps the scenario may take before the run fails as stuck.</summary>
    public int MaxSteps { get; init; } = 60_000;

    /// <summary>
    /// True: each member keeps its state as a real member does (the LiteDB txn log, epoch and snapshot files, periodic
    /// snapshots and purges) in a temporary directory deleted after the run, instead of a model of the disk; the
    /// simulation still decides when each write is synced and what a crash loses. Slower (files are opened at every
    /// restart), closer to production.
    /// </summary>
    public bool DurableStorage { get; init; }

    /// <summary>
    /// Planted (tests of the checks only): a linearizable sync on a member completes at once, without its read index,
    /// so reads after it may be stale on a member that lost its leader without knowing it yet.
    /// </summary>
    internal bool PlantedSkipReadIndex { get; init; }
}

/// <summary>What a run did: one seed and the same code always give the same <see cref="TraceHash"/>.</summary>
/// <param name="Seed">the run's seed</param>
/// <param name="TraceHash">a hash of every event of the run (deliveries, faults, role changes, the scenario's own log lines)</param>
/// <param name="Steps">scheduler steps, a millisecond of the simulation's clock each, including the quiet phase after the scenario</param>
/// <param name="Faults">faults injected</param>
/// <param name="Trace">the run's last events, one a line</param>
public sealed record SimulationResult(int Seed, string TraceHash, long Steps, int Faults, string Trace);

/// <summary>
/// A run failed: the scenario threw (its own assertion, or a call that failed in a way it did not handle), it did not
/// finish within <see cref="DeterministicEnsembleOptions.MaxSteps"/>, it left the simulation's thread, or the ensemble
/// broke an invariant (two leaders in one epoch, a committed txn lost, members that never converge). Re-run
/// <see cref="Seed"/> to see the same run again.
/// </summary>
public sealed class SimulationFailedException : Exception
{
    internal SimulationFailedException(int seed, string trace, Exception cause)
        : base($"The simulated run with seed {seed} failed: {cause.Message}\nIts last events:\n{trace}", cause)
    {
        (Seed, Trace) = (seed, trace);
    }

    /// <summary>The run's seed: <see cref="DeterministicEnsemble.Run"/> with it replays the run.</summary>
    public int Seed { get; }

    /// <summary>The run's last events, one a line.</summary>
    public string Trace { get; }
}

/// <summary>
/// Runs an application's code against a simulated faulty ensemble of Zk.Embedded members, replayed exactly by its
/// seed: the code under test opens real in-process sessions on the members (<see cref="SimulatedEnsemble.ConnectAsync"/>)
/// and uses them as it would in production, while the simulation crashes, restarts, partitions and pauses members,
/// loses messages and slows disks. The consensus core, write forwarding, proposer, publisher, sessions, watches and
/// the in-process session layer are the library's own; everything runs on the calling thread on virtual time, so a
/// seed gives one interleaving and one <see cref="SimulationResult.TraceHash"/>. After the scenario the faults end
/// and every member must converge to the same tree.
/// </summary>
/// <remarks>
/// <para>The code under test must stay on the simulation's thread: no <c>Task.Run</c>, no real timers (pass
/// <see cref="SimulatedEnsemble.Time"/> to <c>Task.Delay</c> and to your own timers, or use
/// <see cref="SimulatedEnsemble.Delay"/>), no blocking waits. Work posted from another thread fails the run.</para>
/// <para>What it does not simulate yet: the members' driver loops and write pipelines run as the simulator's models
/// around the real parts (docs/simulation.md says which); sessions cannot move to another member, and linearizable
/// reads (<c>LinearizableSyncAsync</c>) order only the session's own requests.</para>
/// </remarks>
/// <example>
/// <code>
/// foreach (var seed in Enumerable.Range(1, 200))
/// {
///     DeterministicEnsemble.Run(seed, async ensemble =>
///     {
///         var zk = await ensemble.ConnectAsync(ensemble.Members[0]);   // retry on ConnectionLoss: there may be no leader yet
///         // ... your recipe, retrying as it would in production; assert its invariants ...
///     });
/// }
/// </code>
/// </example>
public static class DeterministicEnsemble
{
    /// <summary>Runs <paramref name="scenario"/> with <paramref name="seed"/>; throws <see cref="SimulationFailedException"/> when the run fails.</summary>
    public static SimulationResult Run(int seed, Func<SimulatedEnsemble, Task> scenario, DeterministicEnsembleOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(scenario);
        options ??= new DeterministicEnsembleOptions();
        var sim = new SimOptions
        {
            Seed = seed, Voters = options.Voters, Observers = options.Observers, CrashProbability = options.CrashProbability,
            PartitionProbability = options.PartitionProbability, HealProbability = options.HealProbability,
            DropProbability = options.DropProbability, LongFaultProbability = options.LongFaultProbability,
            CommittedLogWindow = options.CommittedLogWindow, Scenario = true, ClientProbability = 0,
            LiteDbStore = options.DurableStorage, SnapCount = options.DurableStorage ? SimOptions.StoreSnapCount : 0,
        };
        using var simulation = new Simulation(sim);
        try
        {
            return RunScenario(simulation, seed, scenario, options);
        }
        catch (Exception e)
        {
            throw new SimulationFailedException(seed, simulation.Trace, e);
        }
    }

    /// <summary>
    /// The scenario to its end, then the quiet phase and its checks. Everything runs on the calling thread: the
    /// scenario's continuations and the sessions' replies and events go through one queue
    /// (<see cref="SimSynchronizationContext"/>) that the simulation empties after every step.
    /// </summary>
    private static SimulationResult RunScenario(Simulation sim, int seed, Func<SimulatedEnsemble, Task> scenario, DeterministicEnsembleOptions options)
    {
        var maxSteps = options.MaxSteps;
        var queue = new SimSynchronizationContext();
        var context = new SimulatedEnsemble(sim, queue, seed) { SkipReadIndex = options.PlantedSkipReadIndex };
        sim.PeerStarted = context.OnStarted;
        sim.PeerCrashing = context.OnCrashing;
        sim.RoleChanged = context.OnRoleChanged;
        sim.Stepped = queue.RunPending;
        sim.ReadsAnswered = context.OnReadsAnswered;
        sim.Drained = context.OnDrained;
        // No context while the library and the simulation run (the test framework installs its own on this thread).
        var previous = SynchronizationContext.Current;
        SynchronizationContext.SetSynchronizationContext(null);
        try
        {
            sim.StartAll();
            var task = queue.RunUnderTest(() => scenario(context));
            queue.RunPending();
            while (!task.IsCompleted)
            {
                if (sim.Steps >= maxSteps)
                    throw new ConsensusViolation($"the scenario did not finish within {maxSteps} steps");
                sim.StepOnce();
            }

            task.GetAwaiter().GetResult();   // the scenario's own assertion, if it failed
            sim.Note($"scenario done at step {sim.Steps}");
            sim.Settle();
            return new SimulationResult(seed, sim.TraceHash, sim.Steps, sim.Faults, sim.Trace);
        }
        finally
        {
            SynchronizationContext.SetSynchronizationContext(previous);
        }
    }
}
