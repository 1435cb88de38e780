using System.Globalization;
using System.Text;
using Zk.Embedded.Tree;
using Zk.Embedded.Txns;

namespace Zk.Embedded.Storage;

/// <summary>
/// Readable dumps of a peer's files, like ZooKeeper's LogFormatter and SnapshotFormatter: for operators and for
/// seeing what recovery will see. The files must not be in use by a running peer (the log is opened exclusively).
/// The log dump does not checkpoint; opening it does what a start would (a torn or unsynced tail of the WAL is
/// zeroed), and nothing else is written.
/// </summary>
public static class StorageDump
{
    /// <summary>Writes every txn of the log in <paramref name="dataLogDir"/>, one line each, in zxid order; returns the count.</summary>
    /// <exception cref="FileNotFoundException">There is no txn log in <paramref name="dataLogDir"/>.</exception>
    public static int DumpLog(string dataLogDir, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (!File.Exists(Path.Combine(dataLogDir, TxnLog.DataFileName)))
        {
            // Opening would create an empty log there: a mistyped path must not leave files behind.
            throw new FileNotFoundException($"No txn log in {Path.GetFullPath(dataLogDir)} (no {TxnLog.DataFileName}).", Path.Combine(dataLogDir, TxnLog.DataFileName));
        }

        var log = TxnLog.Open(dataLogDir, new TxnLogOptions { ForceSync = false, CheckpointPages = null });
        try
        {
            output.WriteLine($"txn log {Path.GetFullPath(dataLogDir)}: last zxid {log.LastZxid}, currentEpoch {log.CurrentEpoch}, acceptedEpoch {log.AcceptedEpoch}");
            var count = 0;
            foreach (var txn in log.ReadFrom(default))
            {
                output.WriteLine(Describe(txn));
                count++;
            }

            output.WriteLine($"{count} txns");
            return count;
        }
        finally
        {
            // Not Dispose: LiteDB's close would checkpoint the WAL into the data file, and a dump of a crashed peer's
            // files must leave them as recovery will find them (the open itself only does what a start would).
            log.CloseWithoutCheckpoint();
        }
    }

    /// <summary>Writes a snapshot's sessions and znodes (path, stat, data length, ACL) in path order.</summary>
    public static void DumpSnapshot(string snapshotPath, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(output);
        var state = SnapshotFile.Read(snapshotPath);
        output.WriteLine($"snapshot {Path.GetFullPath(snapshotPath)}: zxid {state.Zxid}, {state.NodeCount} znodes, {state.Sessions.Count} sessions");
        foreach (var session in state.Sessions.Values.OrderBy(s => s.SessionId.Value))
        {
            output.WriteLine($"session {session.SessionId} timeout {session.TimeoutMillis} ms");
        }

        Walk(state.Root, "/", output);
    }

    private static void Walk(ZNode node, string path, TextWriter output)
    {
        var stat = node.ToStat();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{path}  czxid 0x{stat.Czxid:x} mzxid 0x{stat.Mzxid:x} pzxid 0x{stat.Pzxid:x} ctime {stat.Ctime} mtime {stat.Mtime} version {stat.Version} cversion {stat.Cversion} aversion {stat.Aversion} owner 0x{node.EphemeralOwner:x} dataLength {stat.DataLength} acl [{node.Acl}]"));
        var names = node.Children.Names().Order(StringComparer.Ordinal);
        foreach (var name in names)
        {
            Walk(node.Children.Find(name)!, PathRules.Join(path, name), output);
        }
    }

    private static string Describe(Txn txn)
    {
        var when = DateTimeOffset.FromUnixTimeMilliseconds(txn.Time).ToString("yyyy-MM-dd HH:mm:ss.fff", CultureInfo.InvariantCulture);
        return string.Create(CultureInfo.InvariantCulture, $"{when} session {txn.SessionId} zxid {txn.Zxid} {Describe(txn.Op)}");
    }

    private static string Describe(TxnOp op) => op switch
    {
        CreateTxn c => string.Create(CultureInfo.InvariantCulture, $"create {c.Path} data {Bytes(c.Data)} acl [{c.Acl}] owner 0x{c.EphemeralOwner:x} parentCreates {c.ParentCreateCount}"),
        DeleteTxn d => $"delete {d.Path}",
        SetDataTxn s => string.Create(CultureInfo.InvariantCulture, $"setData {s.Path} data {Bytes(s.Data)} version {s.Version}"),
        SetAclTxn a => string.Create(CultureInfo.InvariantCulture, $"setACL {a.Path} acl [{a.Acl}] aversion {a.Aversion}"),
        CheckTxn c => $"check {c.Path}",
        CreateSessionTxn s => string.Create(CultureInfo.InvariantCulture, $"createSession timeout {s.TimeoutMillis}"),
        CloseSessionTxn => "closeSession",
        MultiTxn m => "multi [" + string.Join("; ", m.Ops.Select(Describe)) + "]",
        _ => op.GetType().Name,
    };

    private static string Bytes(byte[]? data)
    {
        if (data is null)
        {
            return "null";
        }

        var printable = data.Length <= 64 && Array.TrueForAll(data, b => b is >= 0x20 and < 0x7f);
        return printable ? "\"" + Encoding.ASCII.GetString(data) + "\"" : $"{data.Length} bytes";
    }
}
