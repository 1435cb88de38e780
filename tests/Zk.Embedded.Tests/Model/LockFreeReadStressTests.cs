using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using Xunit.Abstractions;
using Zk.Embedded.Api;
using Zk.Embedded.Tree;

namespace Zk.Embedded.Tests.Model;

/// <summary>
/// Readers on their own threads against one writer (DESIGN invariant 3). The writer runs multis that set /s/a and
/// /s/b to the same counter and, in the same multi, create (odd counter) or delete (even counter) the pair
/// /s/pair/x, /s/pair/y. Readers must never see /s/a and /s/b differ, or half a pair, in one snapshot; their reads
/// must complete on the calling thread (no waiting for the writer); and every so often the writer stops until every
/// reader has seen its latest value, which only ends if readers progress while writes are in flight.
/// </summary>
public sealed class LockFreeReadStressTests(ITestOutputHelper output)
{
    private const int Readers = 3;
    /// <summary>Multis the writer commits at most; the run also stops after <see cref="WriteBudget"/>, once past the first checkpoint.</summary>
    private const int MaxWrites = 60_000;
    /// <summary>Multis in flight at once: enough to keep the pipeline batching while readers run.</summary>
    private const int WriteWindow = 32;
    /// <summary>Writes between two checkpoints at which the writer waits for every reader to catch up.</summary>
    private const int CheckpointEvery = 2_000;
    private static readonly TimeSpan WriteBudget = TimeSpan.FromSeconds(3);
    /// <summary>A liveness bound only: how long a checkpoint may wait for readers before the test fails.</summary>
    private static readonly TimeSpan CatchUpDeadline = TimeSpan.FromSeconds(20);

    private static readonly Op[] SnapshotReads = [Op.GetData("/s/a"), Op.GetData("/s/b"), Op.GetChildren("/s/pair")];

    [Fact]
    public async Task Readers_on_other_threads_never_wait_for_the_writer_and_never_see_half_a_multi()
    {
        var seed = int.TryParse(Environment.GetEnvironmentVariable("ZK_SEED"), out var fixedSeed) ? fixedSeed : Random.Shared.Next();
        output.WriteLine($"seed={seed} (set ZK_SEED to replay)");

        await using var peer = await ZkPeer.StartAsync(new ZkPeerOptions());
        await using var writer = await peer.ConnectAsync();
        await writer.CreateAsync("/s", null, Acl.OpenUnsafe, CreateMode.Persistent);
        await writer.MultiAsync([
            Op.Create("/s/a", Value(0), Acl.OpenUnsafe, CreateMode.Persistent),
            Op.Create("/s/b", Value(0), Acl.OpenUnsafe, CreateMode.Persistent),
            Op.Create("/s/pair", null, Acl.OpenUnsafe, CreateMode.Persistent),
        ]);

        var failures = new ConcurrentQueue<string>();
        var seen = new long[Readers];
        var reads = new long[Readers];
        using var stop = new CancellationTokenSource();
        var readers = new Thread[Readers];
        for (var r = 0; r < Readers; r++)
        {
            var session = await peer.ConnectAsync();
            var reader = new Reader(r, peer, session, new Random(seed + r), seen, reads, failures, stop.Token);
            readers[r] = new Thread(reader.Run) { IsBackground = true, Name = $"reader-{r}" };
            readers[r].Start();
        }

        long written;
        try
        {
            written = await WriteAsync(writer, seen, failures);
        }
        finally
        {
            await stop.CancelAsync();
            foreach (var thread in readers)
            {
                thread.Join();
            }
        }

        output.WriteLine($"writes={written} reads=[{string.Join(", ", reads)}] last seen=[{string.Join(", ", seen)}]");
        Assert.True(failures.IsEmpty, $"expected no reader to see a torn or stale snapshot, or wait; got {failures.Count}: {string.Join(" | ", failures.Take(5))}");
    }

    private static async Task<long> WriteAsync(IZooKeeper writer, long[] seen, ConcurrentQueue<string> failures)
    {
        var clock = Stopwatch.StartNew();
        var inFlight = new Queue<Task>();
        long i = 0;
        // At least one checkpoint's worth of writes however slow the machine is; the budget only bounds the rest.
        while (i < MaxWrites && (i < CheckpointEvery || clock.Elapsed < WriteBudget) && failures.IsEmpty)
        {
            i++;
            inFlight.Enqueue(writer.MultiAsync(WriteOps(i)).AsTask());
            if (inFlight.Count >= WriteWindow)
            {
                await inFlight.Dequeue();
            }

            if (i % CheckpointEvery == 0)
            {
                while (inFlight.Count > 0)
                {
                    await inFlight.Dequeue();
                }

                await WaitForReadersAsync(seen, i, failures);
            }
        }

        while (inFlight.Count > 0)
        {
            await inFlight.Dequeue();
        }

        return i;
    }

    private static Op[] WriteOps(long i) => i % 2 == 1
        ? [Op.SetData("/s/a", Value(i)), Op.Create("/s/pair/x", null, Acl.OpenUnsafe, CreateMode.Persistent), Op.SetData("/s/b", Value(i)), Op.Create("/s/pair/y", null, Acl.OpenUnsafe, CreateMode.Persistent)]
        : [Op.SetData("/s/a", Value(i)), Op.Delete("/s/pair/x"), Op.SetData("/s/b", Value(i)), Op.Delete("/s/pair/y")];

    /// <summary>Waits, with a liveness deadline, until every reader has seen value <paramref name="value"/> or a later one.</summary>
    private static async Task WaitForReadersAsync(long[] seen, long value, ConcurrentQueue<string> failures)
    {
        var clock = Stopwatch.StartNew();
        while (Enumerable.Range(0, seen.Length).Any(r => Volatile.Read(ref seen[r]) < value))
        {
            if (clock.Elapsed > CatchUpDeadline || !failures.IsEmpty)
            {
                failures.Enqueue($"expected every reader to see value {value} within {CatchUpDeadline}, readers saw [{string.Join(", ", seen)}]");
                return;
            }

            await Task.Yield();
        }
    }

    private static byte[] Value(long value)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, value);
        return bytes;
    }

    private static long ValueOf(ReadOnlySpan<byte> data) => data.Length == 8 ? BinaryPrimitives.ReadInt64LittleEndian(data) : -1;

    /// <summary>One reader thread: spins on public reads and on the internal state, checking each snapshot.</summary>
    private sealed class Reader(int index, ZkPeer peer, IZooKeeper zk, Random random, long[] seen, long[] reads, ConcurrentQueue<string> failures, CancellationToken stop)
    {
        private long _lastValue;
        private Zxid _lastZxid;
        private bool _idle;

        public void Run()
        {
            try
            {
                while (!stop.IsCancellationRequested && failures.IsEmpty)
                {
                    var value = random.Next(3) switch
                    {
                        0 => MultiReadSnapshot(),
                        1 => InternalSnapshot(),
                        _ => SeparateReads(),
                    };
                    if (value < _lastValue)
                    {
                        Fail($"saw value {value} after {_lastValue}: reads of one session went back in time");
                    }

                    _lastValue = value;
                    Volatile.Write(ref seen[index], value);
                    Interlocked.Increment(ref reads[index]);
                }
            }
            catch (Exception e)
            {
                Fail(e.ToString());
            }
            finally
            {
                zk.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
        }

        private long MultiReadSnapshot()
        {
            var results = Completed(zk.MultiReadAsync(SnapshotReads), "multiRead");
            if (results is not [GetDataResult a, GetDataResult b, GetChildrenResult pair])
            {
                Fail($"expected two data results and a children result, got [{string.Join(", ", results)}]");
                return _lastValue;
            }

            var value = ValueOf(a.Data.Span);
            if (value != ValueOf(b.Data.Span) || a.Stat.Version != b.Stat.Version || a.Stat.Mzxid != b.Stat.Mzxid)
            {
                Fail($"multiRead saw /s/a={value} (v{a.Stat.Version}, mzxid 0x{a.Stat.Mzxid:x}) but /s/b={ValueOf(b.Data.Span)} (v{b.Stat.Version}, mzxid 0x{b.Stat.Mzxid:x})");
            }

            CheckPair(value, pair.Children.Count, "multiRead");
            return value;
        }

        private long InternalSnapshot()
        {
            var state = peer.Core.Pipeline.State;
            if (state.Zxid < _lastZxid)
            {
                Fail($"the published state went back from zxid {_lastZxid} to {state.Zxid}");
            }

            _lastZxid = state.Zxid;
            var a = state.Find("/s/a")!;
            var b = state.Find("/s/b")!;
            var value = ValueOf(a.Data);
            if (value != ValueOf(b.Data) || a.Mzxid != b.Mzxid || a.Mzxid > state.Zxid)
            {
                Fail($"state {state.Zxid} holds /s/a={value} (mzxid {a.Mzxid}) but /s/b={ValueOf(b.Data)} (mzxid {b.Mzxid})");
            }

            var pair = state.Find("/s/pair")!;
            CheckPair(value, pair.Children.Count, "state");
            if (pair.Children.Count == 2 && (pair.Children.Find("x") is null || pair.Children.Find("y") is null))
            {
                Fail($"state {state.Zxid}: /s/pair counts 2 children but lacks x or y: [{string.Join(",", pair.Children.Names())}]");
            }

            return value;
        }

        /// <summary>Separate reads see newer states one after another, but never older ones: /s/b read after /s/a is no older.</summary>
        private long SeparateReads()
        {
            var a = ValueOf(Completed(zk.GetDataAsync("/s/a"), "getData").Data.Span);
            var children = Completed(zk.GetChildrenAsync("/s/pair"), "getChildren");
            var b = ValueOf(Completed(zk.GetDataAsync("/s/b"), "getData").Data.Span);
            if (b < a)
            {
                Fail($"read /s/a={a} then /s/b={b}: the later read saw an older state");
            }

            if (children.Count is not (0 or 2))
            {
                Fail($"getChildren /s/pair saw half a pair: [{string.Join(",", children)}]");
            }

            return b;
        }

        private void CheckPair(long value, int children, string how)
        {
            var expected = value % 2 == 1 ? 2 : 0;
            if (children != expected)
            {
                Fail($"{how} saw value {value} with {children} children under /s/pair; the same multi leaves {expected}");
            }
        }

        /// <summary>
        /// The answer of a read. Once the session is idle (its connect notice delivered) a read must complete on this
        /// thread: it never waits for the writer's pipeline. Nothing else is ever queued for this session.
        /// </summary>
        private T Completed<T>(ValueTask<T> read, string op)
        {
            if (read.IsCompleted)
            {
                _idle = true;
                return read.Result;
            }

            if (_idle)
            {
                Fail($"{op} did not complete on the calling thread: a read of an idle session waited");
            }

            return read.AsTask().GetAwaiter().GetResult();
        }

        private void Fail(string message) => failures.Enqueue($"reader {index}: {message}");
    }
}
