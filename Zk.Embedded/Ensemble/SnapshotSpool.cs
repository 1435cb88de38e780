using System.Globalization;
using Zk.Embedded.Api;
using Zk.Embedded.Consensus;
using Zk.Embedded.Storage;

namespace Zk.Embedded.Ensemble;

/// <summary>A snapshot's bytes in a file of the member's spool (<see cref="SnapshotSpool"/>), out of memory.</summary>
internal sealed class SnapshotBody(string path, long length, Task? written = null) : ISnapshotBody
{
    public string Path { get; } = path;

    /// <summary>The file's length once written (-1 while a background write is under way).</summary>
    public long Length { get; } = length;

    /// <summary>Completes once the file is written (at once for a file that already is).</summary>
    public Task Written { get; } = written ?? Task.CompletedTask;

    /// <summary>Removes the file; nothing when it is gone (a store moved it into place).</summary>
    public void Delete() => File.Delete(Path);

    /// <summary>Removes the file once its background write has ended, whatever its outcome.</summary>
    public void DeleteWhenWritten()
    {
        if (Written.IsCompleted)
            Delete();
        else
            Written.ContinueWith(static (_, b) => ((SnapshotBody)b!).Delete(), this, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
    }

    /// <summary>The snapshot's bytes, read into memory (the in-memory store and small test states only).</summary>
    public static ReadOnlyMemory<byte> BytesOf(ConsensusSnapshot snapshot) =>
        snapshot.Body is SnapshotBody body ? File.ReadAllBytes(body.Path) : snapshot.Data;

    public override string ToString() => $"{Path} ({Length} bytes)";
}

/// <summary>
/// Where a member keeps snapshot files on their way in or out (a SNAP being sent or assembled): its data directory,
/// so an assembled snapshot is installed by a rename on the same file system, or a temporary directory of its own for
/// a member kept in memory. Spool files are named <c>snap-*.part</c>: never a snapshot name, and removed at start
/// (<see cref="RemoveLeftovers"/>) since a crash mid-transfer leaves them behind.
/// </summary>
internal sealed class SnapshotSpool : IDisposable
{
    private const string Pattern = "snap-*.part";
    private readonly bool _owned;
    private long _next;

    /// <summary>A spool in <paramref name="dir"/>, or in a temporary directory removed at dispose when null.</summary>
    public SnapshotSpool(string? dir)
    {
        _owned = dir is null;
        Directory = dir ?? System.IO.Directory.CreateTempSubdirectory("zk-spool-").FullName;
    }

    public string Directory { get; }

    /// <summary>A fresh file name for a snapshot at <paramref name="zxid"/> going <paramref name="way"/> ("in" or "out").</summary>
    public string NewPath(string way, Zxid zxid) => System.IO.Path.Combine(Directory,
        $"snap-{way}.{zxid.Value.ToString("x16", CultureInfo.InvariantCulture)}.{Interlocked.Increment(ref _next)}.part");

    /// <summary>
    /// Starts writing <paramref name="state"/>'s snapshot into the spool on a thread of its own (the leader's side of a SNAP:
    /// a large tree must not stall the consensus loop); the body's <see cref="SnapshotBody.Written"/> says when it is done.
    /// </summary>
    public SnapshotBody WriteLater(Tree.TreeState state)
    {
        var path = NewPath("out", state.Zxid);
        return new SnapshotBody(path, -1, DiskWork.Start(() => WriteTo(state, path)));
    }

    /// <summary>Writes <paramref name="state"/>'s snapshot into the spool now (a periodic snapshot, already off the loop).</summary>
    public SnapshotBody Write(Tree.TreeState state)
    {
        var path = NewPath("out", state.Zxid);
        WriteTo(state, path);
        return new SnapshotBody(path, new FileInfo(path).Length);
    }

    private void WriteTo(Tree.TreeState state, string path)
    {
        var dir = System.IO.Path.Combine(Directory, $"snap-out.{Interlocked.Increment(ref _next)}.dir");
        try
        {
            File.Move(SnapshotFile.Write(dir, state), path);
        }
        finally
        {
            System.IO.Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Removes spool files a crash left in <paramref name="dir"/> (a SNAP cut off mid-transfer).</summary>
    public static void RemoveLeftovers(string dir)
    {
        if (!System.IO.Directory.Exists(dir))
            return;
        foreach (var path in System.IO.Directory.EnumerateFiles(dir, Pattern))
            File.Delete(path);
        foreach (var path in System.IO.Directory.EnumerateDirectories(dir, "snap-out.*.dir"))
            System.IO.Directory.Delete(path, recursive: true);
    }

    /// <summary>Best effort: a background write still under way may keep a file (the next start removes it from a dataDir).</summary>
    public void Dispose()
    {
        try
        {
            if (_owned)
                System.IO.Directory.Delete(Directory, recursive: true);
            else
                RemoveLeftovers(Directory);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }
}
