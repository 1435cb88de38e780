using Zk.Testing.History;
using Zk.Embedded.Api;
using Zk.Embedded.Consensus;
using Zk.Testing.Simulation;

namespace Zk.Embedded.Tests.Consensus;

/// <summary>The history checker on hand-made histories: it accepts what the registers and queues may do and refuses what they may not.</summary>
public sealed class SimulationCheckerTests
{
    private int _id;

    [Fact]
    public void Concurrent_writes_and_a_read_in_some_valid_order_are_linearizable()
    {
        var ops = new List<SimOp>
        {
            Write(expected: 0, data: "a", invoke: 1, ret: 10),
            Write(expected: 1, data: "b", invoke: 2, ret: 5),   // placed after "a", though it returned first
            Read(version: 2, data: "b", invoke: 6, ret: 7),
        };
        Assert.Equal(LinearizabilityVerdict.Linearizable, Linearizability.Check(ops));
    }

    [Fact]
    public void A_read_of_an_overwritten_value_after_the_overwrite_returned_is_not_linearizable()
    {
        var ops = new List<SimOp>
        {
            Write(expected: 0, data: "a", invoke: 1, ret: 2),
            Write(expected: 1, data: "b", invoke: 3, ret: 4),
            Read(version: 1, data: "a", invoke: 5, ret: 6),   // stale: "b" was acknowledged before this read began
        };
        Assert.Equal(LinearizabilityVerdict.NotLinearizable, Linearizability.Check(ops));
    }

    [Fact]
    public void A_write_in_doubt_may_explain_a_read_or_be_left_out()
    {
        var unknown = Write(expected: 0, data: "x", invoke: 1, ret: long.MaxValue, SimOutcome.Unknown);
        Assert.Equal(LinearizabilityVerdict.Linearizable, Linearizability.Check([unknown, Read(1, "x", 3, 4)]));
        Assert.Equal(LinearizabilityVerdict.Linearizable, Linearizability.Check([unknown, Read(0, "", 3, 4)]));
        Assert.Equal(LinearizabilityVerdict.NotLinearizable, Linearizability.Check([unknown, Read(1, "y", 3, 4)]));
    }

    [Fact]
    public void A_session_reading_an_older_state_than_it_has_seen_is_a_violation()
    {
        var history = new History();
        var read = Read(1, "a", 5, 6);
        read.Zxid = new Zxid(1, 3);
        var e = Assert.Throws<ConsensusViolation>(() => history.Returned(read, new Zxid(1, 4)));
        Assert.Contains("reads went back", e.Message);
    }

    [Fact]
    public void A_BadVersion_refusal_is_an_observation_of_the_register_version()
    {
        var written = Write(expected: 0, data: "a", invoke: 1, ret: 2);
        // The register is at version 1 from step 2 on: a refusal of "expected 1" after that cannot be placed anywhere.
        Assert.Equal(LinearizabilityVerdict.NotLinearizable, Linearizability.Check([written, Write(1, "b", 3, 4, SimOutcome.BadVersion)]));
        Assert.Equal(LinearizabilityVerdict.Linearizable, Linearizability.Check([written, Write(0, "b", 3, 4, SimOutcome.BadVersion)]));
        // Concurrent with the write, either order explains a refusal of "expected 0" or of "expected 1".
        Assert.Equal(LinearizabilityVerdict.Linearizable, Linearizability.Check([written, Write(1, "b", 1, 4, SimOutcome.BadVersion)]));
        Assert.Equal(LinearizabilityVerdict.Linearizable, Linearizability.Check([written, Write(0, "b", 1, 4, SimOutcome.BadVersion)]));
    }

    [Fact]
    public void A_multi_that_took_effect_on_its_register_but_not_on_its_queue_is_not_linearizable()
    {
        // The multi's setData is seen by a read that returned at 3; a create that began after that still got the name
        // the multi's create must have taken.
        var multi = Multi("/r0", expected: 0, data: "a", created: "/q0/m0000000000", invoke: 1, ret: long.MaxValue, SimOutcome.Unknown);
        var read = Read(version: 1, data: "a", invoke: 2, ret: 3);
        var create = Create("/q0", created: "/q0/n0000000000", invoke: 4, ret: 5);

        // Each node's operations alone have an order: the multi placed for the read, left out for the create.
        Assert.Equal(LinearizabilityVerdict.Linearizable, Linearizability.Check([multi, read]));
        Assert.Equal(LinearizabilityVerdict.Linearizable, Linearizability.Check([multi, create]));
        Assert.Equal(LinearizabilityVerdict.NotLinearizable, Linearizability.Check([multi, read, create]));

        var history = new History();
        history.Ops.AddRange([multi, read, create]);
        var e = Assert.Throws<ConsensusViolation>(history.Check);
        Assert.Contains("the history of /q0, /r0 is not linearizable", e.Message);
    }

    [Fact]
    public void An_in_doubt_multi_no_leader_proposed_may_have_taken_its_queues_next_name()
    {
        // No name, but its queue is known: a read that saw its setData means it also took /q0's next name.
        var multi = Multi("/r0", expected: 0, data: "a", created: null, invoke: 1, ret: long.MaxValue, SimOutcome.Unknown, queue: "/q0");
        var read = Read(version: 1, data: "a", invoke: 2, ret: 3);

        Assert.Equal(LinearizabilityVerdict.NotLinearizable, Linearizability.Check([multi, read, Create("/q0", created: "/q0/n0000000000", invoke: 4, ret: 5)]));
        Assert.Equal(LinearizabilityVerdict.Linearizable, Linearizability.Check([multi, read, Create("/q0", created: "/q0/n0000000001", invoke: 4, ret: 5)]));
        Assert.Equal(LinearizabilityVerdict.Linearizable, Linearizability.Check([multi, read, Create("/q1", created: "/q1/n0000000000", invoke: 4, ret: 5)]));
        Assert.Equal(["/q0", "/r0"], Assert.Single(Linearizability.Components([multi, read])).Paths);
    }

    [Fact]
    public void Sequential_names_must_follow_real_time()
    {
        var second = Create("/q0", created: "/q0/n0000000001", invoke: 1, ret: 2);
        var first = Create("/q0", created: "/q0/n0000000000", invoke: 3, ret: 4);
        Assert.Equal(LinearizabilityVerdict.NotLinearizable, Linearizability.Check([second, first]));

        // Concurrent, either may have come first.
        var overlapping = Create("/q0", created: "/q0/n0000000000", invoke: 1, ret: 4);
        var inside = Create("/q0", created: "/q0/n0000000001", invoke: 2, ret: 3);
        Assert.Equal(LinearizabilityVerdict.Linearizable, Linearizability.Check([overlapping, inside]));
        var overlappingSecond = Create("/q0", created: "/q0/n0000000001", invoke: 1, ret: 4);
        var insideFirst = Create("/q0", created: "/q0/n0000000000", invoke: 2, ret: 3);
        Assert.Equal(LinearizabilityVerdict.Linearizable, Linearizability.Check([overlappingSecond, insideFirst]));
    }

    [Fact]
    public void In_doubt_creates_no_leader_proposed_may_each_have_taken_a_number_after_their_invocation()
    {
        var early = Create("/q0", created: null, invoke: 1, ret: long.MaxValue, SimOutcome.Unknown);
        var late = Create("/q0", created: null, invoke: 10, ret: long.MaxValue, SimOutcome.Unknown);
        Assert.Equal(LinearizabilityVerdict.Linearizable, Linearizability.Check([late, early, Create("/q0", created: "/q0/n0000000000", invoke: 3, ret: 4)]));
        Assert.Equal(LinearizabilityVerdict.Linearizable, Linearizability.Check([late, early, Create("/q0", created: "/q0/n0000000001", invoke: 3, ret: 4)]));
        // Only the early one can have come before step 4.
        Assert.Equal(LinearizabilityVerdict.NotLinearizable, Linearizability.Check([late, early, Create("/q0", created: "/q0/n0000000002", invoke: 3, ret: 4)]));
        Assert.Equal(LinearizabilityVerdict.Linearizable, Linearizability.Check([late, early, Create("/q0", created: "/q0/n0000000002", invoke: 11, ret: 12)]));
    }

    [Fact]
    public void A_valid_history_of_multis_creates_setData_refusals_and_reads_is_linearizable()
    {
        var ops = new List<SimOp>
        {
            Write(expected: 0, data: "a", invoke: 1, ret: 3),
            Multi("/r0", expected: 1, data: "b", created: "/q0/m0000000000", invoke: 2, ret: 6),   // after "a", which returned later
            Create("/q0", created: "/q0/n0000000001", invoke: 4, ret: 8),
            Write(expected: 1, data: "c", invoke: 7, ret: 9, SimOutcome.BadVersion),   // the multi made it version 2
            Read(version: 2, data: "b", invoke: 10, ret: 11),
            // In doubt, but the second name under /q1 and the read say it took effect.
            Multi("/r1", expected: 0, data: "d", created: "/q1/m0000000000", invoke: 5, ret: long.MaxValue, SimOutcome.Unknown),
            Create("/q1", created: "/q1/n0000000001", invoke: 12, ret: 13),
            Read(version: 1, data: "d", invoke: 14, ret: 15, register: "/r1"),
            Multi("/r2", expected: 3, data: "e", created: null, invoke: 1, ret: 2, SimOutcome.BadVersion),
            Write(expected: 0, data: "f", invoke: 3, ret: long.MaxValue, SimOutcome.Unknown, register: "/r2"),
            Create("/q0", created: "/q0/n0000000002", invoke: 9, ret: long.MaxValue, SimOutcome.Unknown),
        };
        for (var i = 0; i < ops.Count; i++)
            ops[i].Zxid = new Zxid(1, (uint)i + 1);

        Assert.Equal(LinearizabilityVerdict.Linearizable, Linearizability.Check(ops));
        Assert.Equal([["/q0", "/r0"], ["/q1", "/r1"], ["/r2"]], Linearizability.Components(ops).Select(c => c.Paths));
        var history = new History();
        history.Ops.AddRange(ops);
        history.Check();
        Assert.Equal((3, 0), (history.Linearizable, history.Inconclusive));
    }

    [Fact]
    public void A_multi_whose_name_skips_a_sequence_number_is_not_linearizable()
    {
        var multi = Multi("/r0", expected: 0, data: "a", created: "/q0/m0000000001", invoke: 1, ret: 2);
        Assert.Equal(LinearizabilityVerdict.NotLinearizable, Linearizability.Check([multi]));
        // A create in doubt that took the first name explains it.
        var inDoubt = Create("/q0", created: "/q0/n0000000000", invoke: 0, ret: long.MaxValue, SimOutcome.Unknown);
        Assert.Equal(LinearizabilityVerdict.Linearizable, Linearizability.Check([inDoubt, multi]));
    }

    [Fact]
    public void A_torn_last_record_is_cut_at_start_and_the_records_before_it_stay()
    {
        var disk = new SimDisk();
        disk.Apply(new WriteAcceptedEpoch(1, 1), peer: 1);
        disk.Apply(new WriteCurrentEpoch(2, 1), peer: 1);
        disk.Apply(new AppendTxn(3, new ConsensusTxn(new Zxid(1, 1), new byte[] { 1, 2, 3 })), peer: 1);
        disk.WriteTorn(new AppendTxn(4, new ConsensusTxn(new Zxid(1, 2), new byte[] { 4, 5, 6, 7 })), bytes: 2);

        var loaded = disk.Load();

        Assert.Equal(new Zxid(1, 1), Assert.Single(loaded.Log).Zxid);
        Assert.Equal(1, disk.TornDropped);
        Assert.Single(disk.Load().Log);   // cut once: the next start finds the same log and nothing torn
        Assert.Equal(1, disk.TornDropped);
    }

    [Fact]
    public void A_store_without_record_checksums_reads_the_torn_record_back()
    {
        var disk = new SimDisk { KeepsTornRecord = true };
        disk.WriteTorn(new AppendTxn(1, new ConsensusTxn(new Zxid(1, 1), new byte[] { 4, 5, 6, 7 })), bytes: 2);

        var torn = Assert.Single(disk.Load().Log);

        Assert.Equal(new byte[] { 4, 5 }, torn.Data.ToArray());
    }

    private SimOp Write(int expected, string data, long invoke, long ret, SimOutcome outcome = SimOutcome.Ok, string register = "/r0") => new()
    {
        Id = _id++, Client = 1, Session = 1, Kind = SimOpKind.SetData, Path = register, ExpectedVersion = expected, Data = data,
        Invoke = invoke, Return = ret, Outcome = outcome,
    };

    private SimOp Read(int version, string data, long invoke, long ret, string register = "/r0") => new()
    {
        Id = _id++, Client = 2, Session = 2, Kind = SimOpKind.LinearRead, Path = register, ReadVersion = version, ReadData = data,
        Invoke = invoke, Return = ret, Outcome = SimOutcome.Ok,
    };

    /// <summary>
    /// A multi: setData of <paramref name="register"/> and a sequential create under <paramref name="queue"/> (by default
    /// <paramref name="created"/>'s parent), <paramref name="created"/> the name its leader proposed (null: none did).
    /// </summary>
    private SimOp Multi(string register, int expected, string data, string? created, long invoke, long ret, SimOutcome outcome = SimOutcome.Ok, string? queue = null) => new()
    {
        Id = _id++, Client = 3, Session = 3, Kind = SimOpKind.Multi, Path = register, ExpectedVersion = expected, Data = data,
        Invoke = invoke, Return = ret, Outcome = outcome, CreatedPath = created, Queue = queue ?? created?[..created.LastIndexOf('/')] ?? "/q0",
    };

    /// <summary>A sequential create, <paramref name="created"/> the name its leader proposed (null: none did).</summary>
    private SimOp Create(string queue, string? created, long invoke, long ret, SimOutcome outcome = SimOutcome.Ok) => new()
    {
        Id = _id++, Client = 4, Session = 4, Kind = SimOpKind.CreateSequential, Path = queue,
        Invoke = invoke, Return = ret, Outcome = outcome, CreatedPath = created,
    };
}
