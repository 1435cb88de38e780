using Xunit.Abstractions;
using Zk.Embedded.Api;
using Zk.Embedded.Storage;
using Zk.Embedded.Txns;

namespace Zk.Embedded.Tests.Storage;

/// <summary>Recovery opens and reads the log on another thread while the snapshot loads (<see cref="LogPrefetch"/>).</summary>
public sealed class LogPrefetchTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private string LogDir => _dir.File("log");

    private RandomTxns FillLog(int batches)
    {
        var seed = Random.Shared.Next();
        output.WriteLine($"seed={seed}");
        var txns = new RandomTxns(seed);
        using var log = TxnLog.Open(LogDir);
        for (var i = 0; i < batches; i++)
        {
            log.Append([txns.Next(), txns.Next(), txns.Next()]);
        }

        return txns;
    }

    [Fact]
    public void A_read_ahead_budget_of_one_byte_holds_one_txn_at_a_time_and_still_yields_the_whole_log_in_order()
    {
        FillLog(40);
        using var log = TxnLog.Open(LogDir);
        var from = log.ReadFrom(default).Skip(9).First().Zxid;
        var expected = log.ReadFrom(from).Select(t => t.Zxid).ToList();
        using var prefetch = new LogPrefetch(() => log, from, acls: null, budgetBytes: 1);
        var read = new List<Zxid>();
        foreach (var txn in prefetch.ReadFrom(from))
        {
            read.Add(txn.Zxid);
            Assert.True(prefetch.BufferedTxns <= 1, $"the reader held {prefetch.BufferedTxns} txns with a budget of one byte");
        }

        Assert.Equal(110, expected.Count);
        Assert.Equal(expected, read);
    }

    [Fact]
    public void Recovery_from_another_zxid_than_the_one_read_ahead_stops_the_reader_and_reads_the_log_itself()
    {
        FillLog(10);
        using var log = TxnLog.Open(LogDir);
        var readAheadFrom = log.ReadFrom(default).Skip(20).First().Zxid;
        using var prefetch = new LogPrefetch(() => log, readAheadFrom, acls: null);
        var all = prefetch.ReadFrom(default).Select(t => t.Zxid).ToList();
        Assert.Equal(log.ReadFrom(default).Select(t => t.Zxid), all);
        Assert.Equal(30, all.Count);
    }

    [Fact]
    public void A_log_that_cannot_be_opened_fails_recovery_with_what_opening_it_threw()
    {
        var e = Assert.Throws<IOException>(() => Recovery.Recover(_dir.File("snap"), () => throw new IOException("the log is in use by another peer")));
        Assert.Equal("the log is in use by another peer", e.Message);
    }

    [Fact]
    public void Recovery_that_opens_the_log_hands_it_over_open_and_writable()
    {
        var txns = FillLog(5);
        var result = Recovery.Recover(_dir.File("snap"), () => TxnLog.Open(LogDir));
        using var log = result.Log;
        Assert.Equal(15, result.Replayed);
        StorageAssert.SameState(txns.State, result.State);
        var next = txns.Next();
        log.Append([next]);
        Assert.Equal(next.Zxid, log.LastZxid);
        Assert.True(result.LogOpenTime > TimeSpan.Zero, "the time to open the log is reported");
    }
}
