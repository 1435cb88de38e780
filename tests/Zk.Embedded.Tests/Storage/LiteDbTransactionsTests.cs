using System.Runtime.CompilerServices;
using LiteDB;
using LiteDB.Engine;
using Zk.Embedded.Storage;

namespace Zk.Embedded.Tests.Storage;

/// <summary>
/// LiteDB leaves the transaction whose commit met an I/O error to its finalizer, which throws on the finalizer
/// thread and so ends the process (seen once ending a full test run: "discarded page must be writable"). Whether
/// that finalizer throws depends on where LiteDB's background log writer was when the error came, so no test here
/// makes it throw on demand; these check that a failed commit leaves such a transaction and that the guard finds it.
/// </summary>
public sealed class LiteDbTransactionsTests
{
    [Fact]
    public void The_pinned_LiteDB_has_the_internals_the_guard_reads()
    {
        Assert.True(LiteDbTransactions.CanReachTransactions, "LiteEngine._monitor or TransactionMonitor._transactions is gone: check ~TransactionService and the guard in LiteDbTransactions after a LiteDB upgrade");
    }

    [Fact]
    public void A_commit_that_fails_with_an_IO_error_leaves_a_transaction_the_guard_takes_off_the_finalizer_queue()
    {
        var left = FailACommitAndCloseTheFiles(suppress: true);
        Assert.True(left >= 1, $"expected LiteDB to leave the failed transaction behind (the guard found {left})");

        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }

    /// <summary>An engine whose log stream fails on write; one explicit transaction commits into it and fails.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static int FailACommitAndCloseTheFiles(bool suppress)
    {
        var log = new FailingStream();
        var engine = new LiteEngine(new EngineSettings { DataStream = new MemoryStream(), LogStream = log });
        var db = new LiteDatabase(engine, disposeOnClose: true);
        var collection = db.GetCollection("c");
        collection.Insert(new BsonDocument { ["_id"] = 1, ["v"] = new byte[10_000] });
        log.Fail = true;
        db.BeginTrans();
        collection.Insert(new BsonDocument { ["_id"] = 2, ["v"] = new byte[10_000] });
        Assert.ThrowsAny<IOException>(() => db.Commit());
        return suppress ? LiteDbTransactions.SuppressFinalizers(engine) : 0;
    }

    private sealed class FailingStream : MemoryStream
    {
        public bool Fail { get; set; }

        public override void Write(byte[] buffer, int offset, int count)
        {
            if (Fail)
            {
                throw new IOException("No space left on device (test)");
            }

            base.Write(buffer, offset, count);
        }

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            if (Fail)
            {
                throw new IOException("No space left on device (test)");
            }

            base.Write(buffer);
        }
    }
}
