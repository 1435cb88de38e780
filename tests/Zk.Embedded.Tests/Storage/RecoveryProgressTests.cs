using Microsoft.Extensions.Logging;
using Zk.Embedded.Api;
using Zk.Embedded.Txns;
using Zk.Embedded.Processing;
using Zk.Embedded.Storage;
using Zk.Embedded.Tree;

namespace Zk.Embedded.Tests.Storage;

/// <summary>A long recovery says how far it is, and how long it took.</summary>
public sealed class RecoveryProgressTests
{
    [Fact]
    public void Recovery_reports_progress_every_100000_txns_and_its_duration()
    {
        using var dir = new TempDirectory();
        const int count = Recovery.ProgressEvery + 10;
        using (var log = TxnLog.Open(dir.Path, new TxnLogOptions { ForceSync = false }))
        {
            log.Append([new Txn(new Zxid(1), new SessionId(7), 0, new CreateSessionTxn(30_000)), new Txn(new Zxid(2), new SessionId(7), 0, new CreateTxn("/p", [], AclList.Open, 0, 1))]);
            var batch = new List<Txn>(10_000);
            for (var zxid = 3L; zxid < count + 3; zxid++)
            {
                batch.Add(new Txn(new Zxid(zxid), new SessionId(7), 0, new SetDataTxn("/p", [1], (int)(zxid - 2))));
                if (batch.Count == batch.Capacity)
                {
                    log.Append(batch);
                    batch.Clear();
                }
            }

            log.Append(batch);
        }

        var logger = new ListLogger();
        var (storage, state) = PeerStorage.Open(dir.Path, dir.Path, forceSync: false, snapCount: 100_000, snapRetainCount: 3, new AclCache(), logger);
        storage.Dispose();

        Assert.Equal(new Zxid(count + 2), state.Zxid);
        Assert.Contains(logger.Messages, m => m.StartsWith($"Recovery: 100000 of {count + 2} txns replayed, at zxid 0x", StringComparison.Ordinal));
        Assert.Contains(logger.Messages, m => m.Contains($"{count + 2} txns replayed, in ", StringComparison.Ordinal));
    }

    private sealed class ListLogger : ILogger
    {
        public List<string> Messages { get; } = [];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Messages.Add(formatter(state, exception));
    }
}
