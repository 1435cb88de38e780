using System.Globalization;

namespace Zk.Embedded.Storage;

/// <summary>
/// The names of a txn log's segment files. Segment 0 is <c>txnlog.db</c> with <c>txnlog-wal.db</c> (and the WAL's
/// second file): the names of the single-file log before segments, which therefore opens as segment 0 unchanged.
/// Segment N &gt; 0 is <c>txnlog.N.db</c> (N as six or more digits) with <c>txnlog.N-wal.db</c>. The number orders
/// the segments; zxids are read from inside (a segment is created before its first txn is known).
/// </summary>
internal static class SegmentFiles
{
    public const string FirstDataFileName = "txnlog.db";
    public const string FirstWalFileName = "txnlog-wal.db";

    public static string DataFileName(int index) =>
        index == 0 ? FirstDataFileName : string.Create(CultureInfo.InvariantCulture, $"txnlog.{index:D6}.db");

    public static string WalFileName(int index) =>
        index == 0 ? FirstWalFileName : string.Create(CultureInfo.InvariantCulture, $"txnlog.{index:D6}-wal.db");

    /// <summary>The segment numbers present in <paramref name="directory"/>, ascending.</summary>
    public static List<int> List(string directory)
    {
        var indexes = new List<int>();
        if (!Directory.Exists(directory))
        {
            return indexes;
        }

        foreach (var path in Directory.EnumerateFiles(directory, "txnlog*.db"))
        {
            if (TryParse(Path.GetFileName(path), out var index))
            {
                indexes.Add(index);
            }
        }

        indexes.Sort();
        return indexes;
    }

    /// <summary>
    /// Deletes a segment's files, durably and as one step: the data file is renamed away and the directory synced
    /// first, so a crash leaves either the whole segment or none of it. Deleting the WAL first could leave a data file
    /// whose newer state (later truncations, say) was only in the WAL; deleting the data file first, a WAL that is
    /// not a database. <see cref="CleanUp"/> finishes what a crash interrupted.
    /// </summary>
    public static void Delete(string directory, int index)
    {
        var data = Path.Combine(directory, DataFileName(index));
        File.Move(data, data + DeletedSuffix, overwrite: true);
        DirectorySync.Sync(directory);
        DeleteLeftovers(directory, index);
    }

    /// <summary>Removes what an interrupted <see cref="Delete"/> left: renamed data files and WALs without a data file.</summary>
    public static void CleanUp(string directory, List<int> indexes)
    {
        foreach (var path in Directory.EnumerateFiles(directory, "txnlog*" + DeletedSuffix))
        {
            var name = Path.GetFileName(path);
            if (TryParse(name[..^DeletedSuffix.Length], out var index) && !indexes.Contains(index))
            {
                DeleteLeftovers(directory, index);
            }
        }
    }

    private const string DeletedSuffix = ".deleted";

    private static void DeleteLeftovers(string directory, int index)
    {
        var wal = Path.Combine(directory, WalFileName(index));
        File.Delete(WalFile.SecondPath(wal));
        File.Delete(wal);
        File.Delete(Path.Combine(directory, DataFileName(index)) + DeletedSuffix);
    }

    private static bool TryParse(string name, out int index)
    {
        index = 0;
        if (name == FirstDataFileName)
        {
            return true;
        }

        // txnlog.000001.db: digits between "txnlog." and ".db", nothing else (not the -wal files).
        const string Prefix = "txnlog.";
        const string Suffix = ".db";
        if (!name.StartsWith(Prefix, StringComparison.Ordinal) || !name.EndsWith(Suffix, StringComparison.Ordinal))
        {
            return false;
        }

        var digits = name.AsSpan(Prefix.Length, name.Length - Prefix.Length - Suffix.Length);
        return digits.Length >= 6 && int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out index) && index > 0;
    }
}
