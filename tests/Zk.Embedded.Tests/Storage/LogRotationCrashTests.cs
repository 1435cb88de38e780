using System.Diagnostics;
using System.Globalization;
using System.Net;
using Xunit.Abstractions;
using Xunit.Sdk;
using Zk.Embedded.Storage;
using Zk.Embedded.Tree;

namespace Zk.Embedded.Tests.Storage;

/// <summary>
/// SIGKILL at the txn log's own moments: a child <c>zk</c> whose log moves to its other store every 16 WAL pages
/// (every few commits) is stopped by a test hook exactly inside a move, at the start of the background checkpoint
/// of the store it left, or between that checkpoint's data-file sync and the emptying of its WAL, then killed. Its dataDir must
/// recover (from snapshot and log, and by replaying the whole log: same tree, so no txn is missing or applied twice)
/// with every acknowledged write, and a restarted child must serve exactly that and go on.
/// </summary>
[Collection(nameof(CrashTests))]
public sealed class LogRotationCrashTests(ITestOutputHelper output)
{
    private const int Writers = 4;
    private const int Window = 16;
    /// <summary>Acknowledged writes to wait for after a checkpoint stopped: writes must go on meanwhile.</summary>
    private const int AcksWhileCheckpointHeld = 300;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData(TxnLogOptions.HookRotation)]
    [InlineData(TxnLogOptions.HookCheckpointStart)]
    [InlineData(TxnLogOptions.HookCheckpointBeforeShrink)]
    public async Task No_acknowledged_write_is_lost_when_SIGKILL_comes_at_this_point_of_the_txn_log(string point)
    {
        using var dir = new TempDirectory();
        var dataDir = dir.File("data");
        Directory.CreateDirectory(dataDir);
        var endPoint = new IPEndPoint(IPAddress.Loopback, CrashTests.FreeLoopbackPort());
        var config = CrashTests.WriteConfig(dir, dataDir, endPoint.Port);
        var writers = Enumerable.Range(0, Writers).Select(i => new CrashWriter(i)).ToArray();
        var moves = new Dictionary<string, string> { [StorageTestHooks.CheckpointPagesVariable] = "16" };
        ZkChildProcess? child = null;
        try
        {
            child = ZkChildProcess.Start(config, dir.Path, new Dictionary<string, string>(moves) { [StorageTestHooks.StopAtVariable] = point });
            await CrashTests.CheckServedAsync(child, endPoint, null, []);
            var how = await WriteUntilStoppedAsync(child, endPoint, writers, point);
            child.Dispose();
            child = null;
            Assert.True(File.Exists(Path.Combine(dataDir, TxnLog.SecondDataFileName)), $"the log has no second store: {string.Join(", ", Directory.GetFiles(dataDir).Select(Path.GetFileName))}");
            var recovered = CheckRecovered(dataDir, dir.File("inspect-1"), writers);
            output.WriteLine($"{point}: {how}; recovered zxid 0x{recovered.Zxid:x}, {recovered.NodeCount} znodes");

            // Restarted without the hook: it checkpoints what the crash left, serves the recovered tree, takes writes.
            foreach (var writer in writers)
            {
                writer.BeginRound();
            }

            child = ZkChildProcess.Start(config, dir.Path, moves);
            await CrashTests.CheckServedAsync(child, endPoint, recovered, [.. writers.SelectMany(w => w.PathsThisRound)]);
            await WriteUntilStoppedAsync(child, endPoint, writers, stopLine: null);
            child.Dispose();
            child = null;
            recovered = CheckRecovered(dataDir, dir.File("inspect-2"), writers);
            output.WriteLine($"after a restart and more writes: zxid 0x{recovered.Zxid:x}");
        }
        catch (Exception e)
        {
            throw new XunitException($"{point}: {e.Message}\nzk output:\n{child?.RecentOutput}", e);
        }
        finally
        {
            child?.Dispose();
        }
    }

    /// <summary>
    /// Writes until the child reports the hook point (then, for a checkpoint, until more writes were acknowledged
    /// while it is held) and kills it; without a point, until a fixed number of acknowledgements.
    /// </summary>
    private static async Task<string> WriteUntilStoppedAsync(ZkChildProcess child, IPEndPoint endPoint, CrashWriter[] writers, string? stopLine)
    {
        var stopped = stopLine is null ? Task.CompletedTask : child.WhenOutputAsync(StorageTestHooks.StoppedLine + stopLine);
        var waitForAcks = stopLine != TxnLogOptions.HookRotation; // a rotation holds the write path: no more acks
        var (acked, ackedAtStop, killing) = (0, -1, 0);
        void Acked()
        {
            var now = Interlocked.Increment(ref acked);
            if (stopped.IsCompleted && waitForAcks)
            {
                Interlocked.CompareExchange(ref ackedAtStop, now, -1);
                if (now - Volatile.Read(ref ackedAtStop) == AcksWhileCheckpointHeld && Interlocked.Exchange(ref killing, 1) == 0)
                {
                    child.SendKill();
                }
            }
        }

        var running = Task.WhenAll(writers.Select((writer, i) => Task.Factory.StartNew(
            () => writer.Run(endPoint, CrashTests.SessionTimeoutMs, new Random(i), Window, Acked, () => Volatile.Read(ref killing) != 0),
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default)));
        if (!waitForAcks)
        {
            await stopped.WaitAsync(Deadline);
            Volatile.Write(ref killing, 1);
            child.SendKill();
        }

        var finished = await Task.WhenAny(running, Task.Delay(Deadline, TimeProvider.System)) == running;
        Assert.True(Volatile.Read(ref killing) != 0, $"the writers stopped at {acked} acknowledged writes before the kill (hook reached: {stopped.IsCompleted}): {CrashTests.Failures(writers)}");
        Assert.True(finished, $"the writers did not notice the kill (hook reached: {stopped.IsCompleted}, {acked} acks)");
        await running;
        Assert.True(CrashTests.Failures(writers).Length == 0, CrashTests.Failures(writers));
        child.Kill();
        return string.Create(CultureInfo.InvariantCulture, $"killed after {acked} acks ({(ackedAtStop < 0 ? acked : ackedAtStop)} when the hook stopped)");
    }

    private static TreeState CheckRecovered(string dataDir, string copy, CrashWriter[] writers)
    {
        var (recovered, _) = CrashTests.RecoverBothWays(dataDir, copy);
        foreach (var writer in writers)
        {
            var lost = writer.Resolve(recovered, out _);
            Assert.True(lost is null, $"acknowledged writes lost: {lost}");
        }

        return recovered;
    }
}
