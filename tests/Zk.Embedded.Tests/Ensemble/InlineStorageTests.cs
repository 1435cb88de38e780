using System.Runtime.InteropServices;
using Zk.Embedded.Api;
using Zk.Embedded.Consensus;
using Zk.Embedded.Ensemble;

namespace Zk.Embedded.Tests.Ensemble;

/// <summary>
/// A store in memory is written on the driver's loop (<see cref="IConsensusStore.DurableAtOnce"/>): no worker thread,
/// the same order and the same fault rule as the worker's. And the arena its txn records live in.
/// </summary>
public sealed class InlineStorageTests
{
    [Fact]
    public async Task A_store_durable_at_once_is_written_as_each_request_is_queued_and_reports_the_last_seq_once()
    {
        var store = new ConsensusLog();
        var worker = new StorageWorker(store, _ => Assert.Fail("expected no report from a worker thread"), e => Assert.Fail($"expected no fault, got {e.Message}"));
        try
        {
            Assert.True(worker.WritesInline);
            worker.Enqueue(new WriteAcceptedEpoch(1, 1));
            worker.Enqueue(new WriteAcceptedEpoch(2, 2));
            worker.Enqueue(new WriteCurrentEpoch(3, 2));
            worker.Enqueue(new AppendTxn(4, new ConsensusTxn(new Zxid(2, 1), new byte[] { 7, 8, 9 })));

            // Written before Enqueue returned: nothing waits in a queue.
            var state = store.Load();
            Assert.Equal((2u, 2u), (state.AcceptedEpoch, state.CurrentEpoch));
            Assert.Equal(new byte[] { 7, 8, 9 }, Assert.Single(state.Log).Data.ToArray());
            Assert.Equal(0, worker.Queued);
            Assert.Equal(4, worker.TakeWritten());
            Assert.Equal(-1, worker.TakeWritten());
        }
        finally
        {
            await worker.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_broken_rule_in_an_inline_write_is_reported_once_and_nothing_after_it_is_written_or_reported()
    {
        var store = new ConsensusLog();
        var faults = new List<Exception>();
        var worker = new StorageWorker(store, _ => Assert.Fail("expected no report from a worker thread"), faults.Add);
        try
        {
            worker.Enqueue(new WriteAcceptedEpoch(1, 5));
            worker.Enqueue(new WriteAcceptedEpoch(2, 3)); // acceptedEpoch may never go back
            worker.Enqueue(new WriteAcceptedEpoch(3, 9));

            Assert.IsType<PersistInvariantException>(Assert.Single(faults));
            Assert.Equal(5u, store.Load().AcceptedEpoch);
            Assert.Equal(-1, worker.TakeWritten());
        }
        finally
        {
            await worker.DisposeAsync();
        }
    }

    [Fact]
    public void The_arena_keeps_small_records_together_in_one_large_segment_and_gives_a_large_one_its_own_array()
    {
        var arena = new TxnArena();
        var first = arena.Copy([1, 2, 3]);
        var second = arena.Copy([4, 5]);
        var large = arena.Copy(new byte[TxnArena.SegmentBytes / 8 + 1]);

        Assert.Equal(new byte[] { 1, 2, 3 }, first.ToArray());
        Assert.Equal(new byte[] { 4, 5 }, second.ToArray());
        Assert.True(MemoryMarshal.TryGetArray(first, out var a));
        Assert.True(MemoryMarshal.TryGetArray(second, out var b));
        Assert.Same(a.Array, b.Array);
        Assert.Equal(TxnArena.SegmentBytes, a.Array!.Length);
        Assert.True(MemoryMarshal.TryGetArray(large, out var c));
        Assert.Equal(TxnArena.SegmentBytes / 8 + 1, c.Array!.Length);
    }

    [Fact]
    public void The_arena_keeps_memory_that_already_lives_on_the_large_object_heap_and_copies_the_rest()
    {
        var arena = new TxnArena();
        var segment = arena.Copy([1, 2, 3]);
        var small = new byte[] { 9, 9 };

        Assert.True(segment.Equals(arena.Keep(segment)), "expected memory in a segment to be kept as it is");
        var kept = arena.Keep(small);
        Assert.Equal(small, kept.ToArray());
        Assert.True(MemoryMarshal.TryGetArray(kept, out var array));
        Assert.NotSame(small, array.Array);
    }
}
