using System.Globalization;
using System.Text;

namespace Zk.Embedded.Storage;

/// <summary>
/// ZooKeeper's epoch files in the dataDir (<c>acceptedEpoch</c>, <c>currentEpoch</c>): the value as decimal text,
/// written as <c>QuorumPeer.writeLongToFile</c> does through <c>AtomicFileOutputStream</c>: a temporary file, fsync,
/// rename over the old one, fsync of the directory, so a crash leaves the old value or the new one, never a torn one.
/// Read as <c>readLongFromFile</c> does: the first line, a decimal long; anything else is a start error.
/// </summary>
internal static class EpochFile
{
    public const string Accepted = "acceptedEpoch";
    public const string Current = "currentEpoch";

    /// <summary>ZooKeeper's marker that a SNAP raises currentEpoch with it (<c>QuorumPeer.UPDATING_EPOCH_FILENAME</c>).</summary>
    public const string Updating = "updatingEpoch";

    private const string TempSuffix = ".tmp"; // AtomicFileOutputStream.TMP_EXTENSION

    /// <summary>The epoch in <paramref name="dir"/>/<paramref name="name"/>, or null when the file does not exist.</summary>
    /// <exception cref="InvalidDataException">The file does not hold one decimal epoch (names the file and its text).</exception>
    public static uint? Read(string dir, string name)
    {
        var path = Path.Combine(dir, name);
        if (!File.Exists(path))
            return null;
        var text = File.ReadAllText(path, Encoding.UTF8);
        var line = text.Split('\n', 2)[0].Trim();
        if (!long.TryParse(line, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value > uint.MaxValue)
        {
            throw new InvalidDataException(
                $"{path} does not hold an epoch (a decimal number up to {uint.MaxValue}): \"{Shorten(line)}\". The file is damaged; restore it from a backup or remove this server's data directory so that it resyncs from the ensemble.");
        }

        return (uint)value;
    }

    /// <summary>Replaces the file atomically and durably (see the class remarks).</summary>
    public static void Write(string dir, string name, uint epoch) =>
        WriteAtomically(dir, name, Encoding.ASCII.GetBytes(epoch.ToString(CultureInfo.InvariantCulture)));

    /// <summary>Writes <paramref name="bytes"/> as <paramref name="name"/>: temporary file, fsync, rename, fsync of the directory.</summary>
    public static void WriteAtomically(string dir, string name, ReadOnlySpan<byte> bytes)
    {
        var path = Path.Combine(dir, name);
        var temp = path + TempSuffix;
        using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0))
        {
            file.Write(bytes);
            file.Flush(flushToDisk: true);
        }

        File.Move(temp, path, overwrite: true);
        DirectorySync.Sync(dir);
    }

    /// <summary>Creates an empty marker file durably (its presence is what counts).</summary>
    public static void Mark(string dir, string name)
    {
        using (var file = new FileStream(Path.Combine(dir, name), FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0))
            file.Flush(flushToDisk: true);
        DirectorySync.Sync(dir);
    }

    /// <summary>Deletes a file durably, if it exists.</summary>
    public static void Delete(string dir, string name)
    {
        var path = Path.Combine(dir, name);
        if (!File.Exists(path))
            return;
        File.Delete(path);
        DirectorySync.Sync(dir);
    }

    private static string Shorten(string text) => text.Length <= 40 ? text : text[..40] + "…";
}
