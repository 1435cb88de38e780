using System.Collections;
using System.Reflection;
using LiteDB.Engine;

namespace Zk.Embedded.Storage;

/// <summary>
/// Keeps LiteDB's abandoned transactions away from the finalizer thread. LiteDB 5.0.x closes its engine when a
/// write meets an I/O error (<c>EngineState.Handle</c>) without releasing the transaction that failed, and
/// <c>TransactionMonitor.Dispose</c> stops at the first transaction whose own dispose throws; such a transaction
/// stays finalizable, and <c>~TransactionService</c> then throws on the finalizer thread ("discarded page must be
/// writable"), which ends the whole process, host application included, at some later GC. A log that is closed,
/// or abandoned after a failed open, therefore takes every transaction LiteDB still lists off the finalizer queue:
/// the files are closed by us, and nothing a finalizer could do for them is wanted.
/// </summary>
/// <remarks>
/// Reads LiteDB's internals by name (<c>LiteEngine._monitor</c>, <c>TransactionMonitor._transactions</c>) for the
/// version pinned in Directory.Packages.props; a LiteDB whose shape differs makes this do nothing, and
/// <c>LiteDbTransactionsTests</c> fails, so an upgrade cannot drop the guard silently.
/// </remarks>
internal static class LiteDbTransactions
{
    private static readonly FieldInfo? MonitorField =
        typeof(LiteEngine).GetField("_monitor", BindingFlags.Instance | BindingFlags.NonPublic);

    private static readonly FieldInfo? TransactionsField =
        MonitorField?.FieldType.GetField("_transactions", BindingFlags.Instance | BindingFlags.NonPublic);

    /// <summary>True when this LiteDB has the internals <see cref="SuppressFinalizers"/> reads.</summary>
    internal static bool CanReachTransactions => TransactionsField is not null;

    /// <summary>Takes every transaction <paramref name="engine"/> still lists off the finalizer queue; returns how many.</summary>
    public static int SuppressFinalizers(LiteEngine engine)
    {
        if (MonitorField?.GetValue(engine) is not { } monitor || TransactionsField?.GetValue(monitor) is not IDictionary transactions)
        {
            return 0;
        }

        var count = 0;
        lock (transactions)
        {
            foreach (var transaction in transactions.Values)
            {
                GC.SuppressFinalize(transaction);
                count++;
            }
        }

        return count;
    }
}
