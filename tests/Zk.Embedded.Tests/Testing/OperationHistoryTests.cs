using Xunit.Abstractions;
using Zk.Embedded.Api;
using Zk.Embedded.Tests.Recipes;
using Zk.Embedded.Tests.Support;
using Zk.Testing;
using Zk.Testing.History;

namespace Zk.Embedded.Tests.Testing;

/// <summary>
/// Zk.Testing's recorded history and its checks: what real sessions do under seeded faults passes, and sessions that
/// lie (a stale "linearizable" read, a read that goes back in time) or a register that loses a write are caught.
/// </summary>
[Collection(RunsAlone.Name)]
public sealed class OperationHistoryTests(ITestOutputHelper output)
{
    private static readonly IReadOnlyList<Acl> Open = Acl.OpenUnsafe;

    [Fact]
    public async Task Conditional_writes_and_linearizable_reads_on_registers_under_two_faults_at_once_are_linearizable()
    {
        var seed = RecipeTestKit.Next(output);
        var options = new FaultyEnsembleOptions
        {
            Voters = 5,
            ConcurrentFaults = 2,
            FaultInterval = TimeSpan.FromMilliseconds(300),
            Ensemble = new() { Observers = 1 },
        };
        await using var chaos = await FaultyEnsemble.StartAsync(seed, options);
        var registers = new[] { "/r0", "/r1" };
        long written = 0;
        await chaos.RunAsync(async stop =>
        {
            await Task.WhenAll(Enumerable.Range(0, 4).Select(client => Task.Run(async () =>
            {
                var random = new Random(seed + client);
                var value = 0;
                while (!stop.IsCancellationRequested)
                {
                    IZooKeeper? session = null;
                    try
                    {
                        session = await chaos.ConnectAsync(options: new ZkSessionOptions { SessionTimeout = TimeSpan.FromSeconds(2) });
                        while (!stop.IsCancellationRequested)
                        {
                            var path = registers[random.Next(registers.Length)];
                            await session.LinearizableSyncAsync();
                            DataResult current;
                            try
                            {
                                current = await session.GetDataAsync(path);
                            }
                            catch (ZkException e) when (e.Code == ZkErrorCode.NoNode)
                            {
                                await SucceedsAsync(() => session.CreateAsync(path, [], Open, CreateMode.Persistent), ZkErrorCode.NodeExists);
                                continue;
                            }

                            if (await SucceedsAsync(() => session.SetDataAsync(path, System.Text.Encoding.UTF8.GetBytes($"c{client}-{value++}"), current.Stat.Version), ZkErrorCode.BadVersion))
                                Interlocked.Increment(ref written);
                        }
                    }
                    catch (ZkException)
                    {
                        // The session's member failed under it: the next session goes on.
                    }
                    catch (ObjectDisposedException)
                    {
                    }
                    finally
                    {
                        if (session is not null)
                            await session.DisposeAsync();
                    }
                }
            })));
        }, TimeSpan.FromSeconds(4));

        var checking = System.Diagnostics.Stopwatch.StartNew();
        var result = chaos.History.Check();
        output.WriteLine($"seed {seed}: {written} writes acknowledged; checked in {checking.ElapsedMilliseconds} ms: {result}");
        output.WriteLine(string.Join(", ", chaos.Schedule.Select(e => $"{e.At.TotalMilliseconds:F0} ms {e.What}")));
        Assert.True(result.Passed, $"seed {seed}: {result}");
        Assert.True(written > 0 && result.PathsChecked == registers.Length, $"seed {seed}: expected writes on both registers, got {written} writes and {result.PathsChecked} paths checked");
        Assert.True(result.Inconclusive.Count == 0, $"seed {seed}: expected every register decided, inconclusive: {string.Join(", ", result.Inconclusive)}");
        Assert.True(Overlapped(chaos.Schedule), $"seed {seed}: expected two faults in effect at once at some point: {string.Join(", ", chaos.Schedule.Select(e => e.What))}");
        Assert.Null(await chaos.CheckConvergedAsync());
    }

    [Fact]
    public async Task A_stale_linearizable_read_is_caught()
    {
        await using var lying = await LyingReaderAsync();
        var (history, writer, reader) = (lying.History, lying.Writer, lying.Reader);

        await writer.CreateAsync("/r", "a"u8.ToArray(), Open, CreateMode.Persistent);
        await reader.LinearizableSyncAsync();
        await reader.GetDataAsync("/r");                       // "a", remembered by the lying session
        await writer.SetDataAsync("/r", "b"u8.ToArray(), 0);
        await reader.LinearizableSyncAsync();
        await reader.GetDataAsync("/r");                       // "a" again, after "b" was acknowledged: stale

        var result = history.Check();
        output.WriteLine(result.ToString());
        Assert.False(result.Passed, $"expected the stale read caught, got: {result}");
        Assert.Contains(result.Violations, v => v.StartsWith("/r: no order", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_same_reads_without_the_linearizable_sync_are_allowed_to_be_stale()
    {
        await using var lying = await LyingReaderAsync();
        var (history, writer, reader) = (lying.History, lying.Writer, lying.Reader);

        await writer.CreateAsync("/r", "a"u8.ToArray(), Open, CreateMode.Persistent);
        await reader.GetDataAsync("/r");
        await writer.SetDataAsync("/r", "b"u8.ToArray(), 0);
        await reader.GetDataAsync("/r");

        var result = history.Check();
        Assert.True(result.Passed, $"expected plain reads (which ZooKeeper lets be stale) to pass, got: {result}");
        Assert.Equal(1, result.PathsChecked);
    }

    [Fact]
    public async Task A_session_that_reads_an_older_state_than_it_saw_is_caught()
    {
        await using var lying = await LyingReaderAsync();
        var (history, writer, reader, inner) = (lying.History, lying.Writer, lying.Reader, lying.Stale);

        await writer.CreateAsync("/r", "a"u8.ToArray(), Open, CreateMode.Persistent);
        await inner.GetDataAsync("/r");                        // remembered, unrecorded
        await writer.SetDataAsync("/r", "b"u8.ToArray(), 0);
        inner.PassThrough();
        await reader.GetDataAsync("/r");                       // "b"
        inner.Replay();
        await reader.GetDataAsync("/r");                       // "a" again: back in time

        var result = history.Check();
        output.WriteLine(result.ToString());
        Assert.Contains(result.Violations, v => v.Contains("went back in time on /r", StringComparison.Ordinal));
    }

    [Fact]
    public void A_lost_acknowledged_write_is_caught_and_a_write_of_unknown_outcome_may_count_or_not()
    {
        // Hand-made histories on one path: create "a"; set "b" acknowledged; a later read still shows "a".
        Assert.False(CheckOne(Op(RecordedKind.Create, "61", 0, 1), Op(RecordedKind.SetData, "62", 2, 3, stat: 1), Read("61", 0, 4, 5)).Passed);
        // The same set with its outcome unknown: the read may come before it took effect, or after.
        Assert.True(CheckOne(Op(RecordedKind.Create, "61", 0, 1), Op(RecordedKind.SetData, "62", 2, 3, outcome: RecordedOutcome.Unknown), Read("61", 0, 4, 5)).Passed);
        Assert.True(CheckOne(Op(RecordedKind.Create, "61", 0, 1), Op(RecordedKind.SetData, "62", 2, 3, outcome: RecordedOutcome.Unknown), Read("62", 1, 4, 5)).Passed);
        // Concurrent with the read, an acknowledged set may come before or after it.
        Assert.True(CheckOne(Op(RecordedKind.Create, "61", 0, 1), Op(RecordedKind.SetData, "62", 2, 6, stat: 1), Read("61", 0, 4, 5)).Passed);
        // A BadVersion refusal observes that the version was not the expected one.
        Assert.False(CheckOne(Op(RecordedKind.Create, "61", 0, 1), Op(RecordedKind.SetData, "62", 2, 3, version: 0, outcome: RecordedOutcome.Refused, error: ZkErrorCode.BadVersion)).Passed);
    }

    /// <summary>A standalone peer with a recorded writer and a recorded reader whose session lies (<see cref="StaleReads"/>).</summary>
    private static async Task<LyingReader> LyingReaderAsync()
    {
        var peer = await ZkPeer.StartAsync(new ZkPeerOptions());
        var history = new OperationHistory();
        var stale = new StaleReads(await peer.ConnectAsync());
        return new LyingReader(peer, history, history.Record(await peer.ConnectAsync()), stale, history.Record(stale));
    }

    private sealed record LyingReader(ZkPeer Peer, OperationHistory History, IZooKeeper Writer, StaleReads Stale, IZooKeeper Reader) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Writer.DisposeAsync();
            await Stale.DisposeAsync();
            await Peer.DisposeAsync();
        }
    }

    private static HistoryCheckResult CheckOne(params RecordedOperation[] ops)
    {
        var history = new OperationHistory();
        foreach (var op in ops)
            history.Append(op);
        return history.Check();
    }

    private static RecordedOperation Op(RecordedKind kind, string data, long invoke, long returned, int version = -1, int? stat = null,
        RecordedOutcome outcome = RecordedOutcome.Ok, ZkErrorCode error = ZkErrorCode.Ok) => new()
    {
        Id = 0, Session = 0, Kind = kind, Path = "/p", Version = version, Data = data, Invoke = invoke,
        Return = outcome == RecordedOutcome.Unknown ? long.MaxValue : returned, Outcome = outcome, Error = error,
        Stat = stat is { } v ? new Stat(0, v + 1, 0, 0, v, 0, 0, 0, 0, 0, 0) : null,
    };

    private static RecordedOperation Read(string data, int version, long invoke, long returned) =>
        Op(RecordedKind.LinearizableRead, data, invoke, returned, stat: version);

    private static bool Overlapped(IReadOnlyList<FaultEvent> schedule)
    {
        var active = 0;
        foreach (var e in schedule)
        {
            active += e.What.Split(' ')[0] is "crash" or "partition" or "block" or "pause" ? 1 : -1;
            if (active >= 2)
                return true;
        }

        return false;
    }

    /// <summary>Runs <paramref name="call"/>: true when it succeeded, false when it failed with <paramref name="expected"/>, which the caller tolerates.</summary>
    private static async Task<bool> SucceedsAsync<T>(Func<ValueTask<T>> call, ZkErrorCode expected)
    {
        try
        {
            await call();
            return true;
        }
        catch (ZkException e) when (e.Code == expected)
        {
            return false;
        }
    }
}
