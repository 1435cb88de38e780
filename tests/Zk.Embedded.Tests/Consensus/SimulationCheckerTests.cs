using Zk.Testing.History;
using Zk.Embedded.Api;
using Zk.Embedded.Consensus;
using Zk.Testing.Simulation;

namespace Zk.Embedded.Tests.Consensus;

/// <summary>The history checker on hand-made histories: it accepts what a register may do and refuses what it may not.</summary>
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

    private SimOp Write(int expected, string data, long invoke, long ret, SimOutcome outcome = SimOutcome.Ok) => new()
    {
        Id = _id++, Client = 1, Session = 1, Kind = SimOpKind.SetData, Path = "/r0", ExpectedVersion = expected, Data = data,
        Invoke = invoke, Return = ret, Outcome = outcome,
    };

    private SimOp Read(int version, string data, long invoke, long ret) => new()
    {
        Id = _id++, Client = 2, Session = 2, Kind = SimOpKind.LinearRead, Path = "/r0", ReadVersion = version, ReadData = data,
        Invoke = invoke, Return = ret, Outcome = SimOutcome.Ok,
    };
}
