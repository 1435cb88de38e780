using Microsoft.Extensions.Logging;
using Zk.Embedded.Api;
using Zk.Embedded.Processing;
using Zk.Embedded.Sessions;
using Zk.Embedded.Tree;
using Zk.Embedded.Txns;
using Zk.Embedded.Watches;

namespace Zk.Embedded.Tests.Pipeline;

/// <summary>
/// How a stopping pipeline is logged: a commit stage that ends (a leader's term is over: ConnectionLoss) is routine and
/// logged as such; any other fault stops writes and is Critical. Either is logged once, though both the proposer and
/// the publisher see it.
/// </summary>
public sealed class PipelineStopLoggingTests
{
    [Fact]
    public async Task A_commit_stage_ending_with_ConnectionLoss_is_logged_as_the_pipeline_ending_not_as_a_failure()
    {
        var log = await StopWithAsync(new ZkException(ZkErrorCode.ConnectionLoss, null, "This peer stopped leading before the write committed: lost quorum."));
        var entry = Assert.Single(log, e => e.Id == 1009);
        Assert.Equal(LogLevel.Information, entry.Level);
        Assert.DoesNotContain(log, e => e.Level == LogLevel.Critical);
    }

    [Fact]
    public async Task Any_other_fault_of_the_commit_stage_is_logged_as_Critical()
    {
        var log = await StopWithAsync(new IOException("fsync failed"));
        var entry = Assert.Single(log, e => e.Id == 1002);
        Assert.Equal(LogLevel.Critical, entry.Level);
        Assert.DoesNotContain(log, e => e.Id == 1009);
    }

    private static async Task<List<(int Id, LogLevel Level)>> StopWithAsync(Exception fault)
    {
        var logger = new RecordingLogger();
        var time = TimeProvider.System;
        var processor = new RequestProcessor(TreeState.CreateInitial(), new TxnBuilder(new AclCache(), new PeerLimits(1 << 20, false, null)), new WatchManager(),
            new SessionTracker(time, 1, new byte[32]), new FailingCommit(fault), time, logger);
        processor.Start();
        await using (processor)
        {
            var session = new ServerSession(default, [], 0, [new Id("super", "")], isSystem: true);
            await processor.SubmitAsync(new PendingWrite(session, new CreateRequest("/a", null, Acl.OpenUnsafe, CreateMode.Persistent, -1, false), null));
            Assert.Same(fault, await processor.Faulted.WaitAsync(TimeSpan.FromSeconds(30)));
        }

        lock (logger.Entries)
        {
            return [.. logger.Entries];
        }
    }

    /// <summary>A commit stage whose every wait fails with the given fault.</summary>
    private sealed class FailingCommit(Exception fault) : ICommitStage
    {
        public bool CommitsAtOnce => false;

        public Zxid CommittedZxid => default;

        public void Propose(IReadOnlyList<Txn> txns)
        {
        }

        public ValueTask WaitCommittedAsync(Zxid zxid) => ValueTask.FromException(fault);
    }

    private sealed class RecordingLogger : ILogger
    {
        public List<(int Id, LogLevel Level)> Entries { get; } = [];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (Entries)
            {
                Entries.Add((eventId.Id, logLevel));
            }
        }
    }
}
