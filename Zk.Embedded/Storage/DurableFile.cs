using System.Runtime.InteropServices;

namespace Zk.Embedded.Storage;

/// <summary>Something that happened to a file storage owns; tests observe the order of syncs and shrinks.</summary>
internal readonly record struct FileEvent(string File, FileEventKind Kind);

internal enum FileEventKind
{
    /// <summary>The file's data and metadata were forced to stable storage (fsync).</summary>
    Sync,

    /// <summary>The file was cut shorter (LiteDB clearing its WAL after a checkpoint).</summary>
    Shrink,
}

/// <summary>
/// A <see cref="FileStream"/> that storage owns and hands to LiteDB, so that durability is decided here rather than
/// inside LiteDB 5.0.x (which never fsyncs a commit, issue #2818). Three rules:
/// <list type="bullet">
/// <item><see cref="Sync"/> is <c>FileStream.Flush(true)</c>, which on Unix is <c>fsync(2)</c> (data and size)
/// and on Windows <c>FlushFileBuffers</c>.</item>
/// <item><see cref="Flush()"/> also syncs. LiteDB flushes a stream only where it means "on disk": after writing a
/// new file's header and after copying WAL pages into the data file in a checkpoint. Over a stream it did not open
/// itself LiteDB can only call <c>Flush()</c>, so without this its checkpoint would not reach the disk.</item>
/// <item>Before the file is cut shorter, <see cref="BeforeShrink"/> runs. The WAL's shrink is set to sync the data
/// file first, so WAL pages are never dropped before the checkpointed copies of them are durable, whatever LiteDB
/// does or does not flush.</item>
/// </list>
/// Exclusive (<see cref="FileShare.None"/>): a second peer on the same directory fails at open.
/// </summary>
internal sealed class DurableFile : Stream
{
    private readonly FileStream _file;
    private readonly Action<FileEvent>? _observer;

    public DurableFile(string path, string role, Action<FileEvent>? observer)
    {
        Path = path;
        Role = role;
        _observer = observer;
        Created = !File.Exists(path);
        // bufferSize 0: LiteDB reads and writes whole 8 KiB pages; a FileStream buffer would only copy them again.
        _file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, bufferSize: 0, FileOptions.RandomAccess);
    }

    public string Path { get; }

    /// <summary>What the file is for ("data", "wal"), used in events and messages.</summary>
    public string Role { get; }

    /// <summary>True when this open created the file (its directory entry then needs a directory sync).</summary>
    public bool Created { get; }

    /// <summary>How many times the file was forced to disk.</summary>
    public long SyncCount { get; private set; }

    /// <summary>Runs before the file is cut shorter.</summary>
    public Action? BeforeShrink { get; set; }

    public override bool CanRead => _file.CanRead;

    public override bool CanSeek => _file.CanSeek;

    public override bool CanWrite => _file.CanWrite;

    public override long Length => _file.Length;

    public override long Position { get => _file.Position; set => _file.Position = value; }

    /// <summary>Forces the file's written bytes and its length to stable storage.</summary>
    public void Sync()
    {
        _file.Flush(flushToDisk: true);
        SyncCount++;
        _observer?.Invoke(new FileEvent(Role, FileEventKind.Sync));
    }

    public override void Flush() => Sync();

    public override int Read(byte[] buffer, int offset, int count) => _file.Read(buffer, offset, count);

    public override int Read(Span<byte> buffer) => _file.Read(buffer);

    public override void Write(byte[] buffer, int offset, int count) => _file.Write(buffer, offset, count);

    public override void Write(ReadOnlySpan<byte> buffer) => _file.Write(buffer);

    public override long Seek(long offset, SeekOrigin origin) => _file.Seek(offset, origin);

    public override void SetLength(long value)
    {
        if (value < _file.Length)
        {
            BeforeShrink?.Invoke();
            _observer?.Invoke(new FileEvent(Role, FileEventKind.Shrink));
        }

        _file.SetLength(value);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _file.Dispose();
        }

        base.Dispose(disposing);
    }
}

/// <summary>
/// fsync of a directory, so that a file created or renamed in it survives a power loss (its directory entry is
/// metadata of the directory, not of the file). POSIX only: .NET cannot open a directory as a file, so this calls
/// libc. On Windows it does nothing: NTFS journals directory changes, and there is no portable equivalent.
/// </summary>
internal static class DirectorySync
{
    public static void Sync(string directory)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        // A null-terminated UTF-8 byte[] keeps this a blittable DllImport (no unsafe code, no string marshalling).
        var path = System.Text.Encoding.UTF8.GetBytes(System.IO.Path.GetFullPath(directory) + "\0");
        var fd = Open(path, 0 /* O_RDONLY */);
        if (fd < 0)
        {
            throw new IOException($"Cannot open directory {directory} to sync it (errno {Marshal.GetLastPInvokeError()}).");
        }

        try
        {
            if (FSync(fd) != 0)
            {
                throw new IOException($"fsync of directory {directory} failed (errno {Marshal.GetLastPInvokeError()}).");
            }
        }
        finally
        {
            _ = Close(fd);
        }
    }

    [DllImport("libc", EntryPoint = "open", SetLastError = true)]
    private static extern int Open(byte[] path, int flags);

    [DllImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static extern int FSync(int fd);

    [DllImport("libc", EntryPoint = "close", SetLastError = true)]
    private static extern int Close(int fd);
}
