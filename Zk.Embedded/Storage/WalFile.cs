using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Zk.Embedded.Txns;

namespace Zk.Embedded.Storage;

/// <summary>
/// LiteDB's write-ahead log file, kept preallocated with written zeros so that a commit's sync is an
/// <c>fdatasync</c> of overwritten blocks, not an appending <c>fsync</c> (on ext4 about 90 µs against 160 µs, because
/// a file that grows makes every sync commit the journal). Apache ZooKeeper preallocates its log files for the same
/// reason.
/// </summary>
/// <remarks>
/// <para><b>Layout.</b> A header block (<see cref="HeaderBytes"/>: the format's magic, then the file's generation), then one slot per LiteDB page:
/// the page and the CRC-32C of its bytes (<see cref="SlotSize"/>). LiteDB sees only its pages, at its own offsets.
/// The checksum is for power loss: a commit rewrites whole pages that also hold entries of earlier, acknowledged
/// commits (the index page, the collection page), and writeback may persist one 4 KiB half of such a page without the
/// other. LiteDB pages carry no checksum, so LiteDB would take the torn page as the newest version and fail reading,
/// or worse. Here a page whose checksum fails ends the log at open, like a blank one: no acknowledged commit can lie at
/// or after it, since its sync would have made that page whole.</para>
/// <para>LiteDB sees a file of <see cref="Length"/> = the bytes it wrote (its "logical" length); the file on disk is
/// longer. The header holds the file's generation, and a slot's checksum is the page's CRC-32C mixed with it
/// (<see cref="Checksum"/>), so a page left from an earlier use of the file never verifies again: the logical length
/// ends at the first slot that is blank or does not verify, and what lies past it is zeros or stale pages.</para>
/// <list type="bullet">
/// <item><b>Growing</b>: the file is extended by writing zeros (never a sparse or fallocated range, which would make
/// later syncs slow again), in chunks that double up to 16 MiB, so a small log stays small.</item>
/// <item><b>Emptying</b> (LiteDB's <c>SetLength(0)</c> after a checkpoint): the first slot is zeroed and synced, so
/// from then on the log reads as empty, and the log moves to the other file, which a background task gave the next
/// generation (and synced) after the previous move. Its old pages stay where they are: under the new generation they
/// fail their check, so nothing is zeroed (zeroing them was half of what each move wrote to the disk, and WAL syncs
/// queued behind it). At most one of the two files has a non-blank first slot, and that one is the log.</item>
/// <item><b>Opening</b> after a crash: pages written but never synced may have reached the disk out of order, leaving
/// a page that verifies after the end. They belong to no acknowledged commit (a commit is acknowledged after its
/// sync, and a sync covers every page before it), so they are zeroed and synced before LiteDB reads the file.</item>
/// </list>
/// <para>A commit's pages are gathered into one write (<see cref="WriteGather"/>). <see cref="Sync"/> runs on the
/// pipeline's publishing thread while LiteDB writes the next batch on another: it drains what is gathered under the
/// lock and syncs outside it, so the sync covers every page written before it started and the writer never waits
/// for the disk.</para>
/// <para>Exclusive, like <see cref="DurableFile"/>: a second peer on the same directory fails at open.</para>
/// </remarks>
internal sealed class WalFile : GatheredFile
{
    /// <summary>LiteDB's page size: the unit of the blank-page scan.</summary>
    internal const int PageSize = 8192;

    /// <summary>A page and its CRC-32C (little-endian) after it.</summary>
    internal const int SlotSize = PageSize + 4;

    /// <summary>The header block before the first slot: the magic, then zeros.</summary>
    internal const int HeaderBytes = 4096;

    /// <summary>The second file's name: the first one's with this before its extension.</summary>
    internal const string SecondSuffix = "-2";

    /// <summary>A commit's pages up to this size reach the file in one write.</summary>
    private const int GatherBytes = 256 * 1024;

    private const long FirstChunkBytes = 1 << 20;
    private const long MaxChunkBytes = 16 << 20;

    private readonly Action<FileEvent>? _observer;
    private readonly string[] _paths;
    private SafeFileHandle _spare;
    /// <summary>The other file with a new generation, extended and synced; null until first needed (see <see cref="SparePrepared"/>).</summary>
    private Task<(long Physical, uint Generation)>? _spareReady;
    /// <summary>The live file's generation: every slot written is checked under it.</summary>
    private uint _generation;
    private int _live;
    private long _length;
    private long _physical;

    public WalFile(string path, Action<FileEvent>? observer)
        : base(path, GatherBytes)
    {
        _observer = observer;
        _paths = [path, SecondPath(path)];
        var spareCreated = !File.Exists(_paths[1]);
        try
        {
            _spare = File.OpenHandle(_paths[1], FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch
        {
            Handle.Dispose();
            throw;
        }

        try
        {
            Created |= spareCreated;
            EnsureHeader(Handle, _paths[0]);
            EnsureHeader(_spare, _paths[1]);
            var firstBlank = IsBlank(Handle, SlotOffset(0));
            if (!IsBlank(_spare, SlotOffset(0)))
            {
                if (!firstBlank)
                {
                    throw new InvalidDataException(
                        $"Both {_paths[0]} and {_paths[1]} hold log pages, which this peer never leaves behind; the txn log directory was changed by something else.");
                }

                var first = Handle;
                SwitchTo(_spare);
                _spare = first;
                _live = 1;
            }

            _physical = RandomAccess.GetLength(Handle);
            _generation = ReadGeneration(Handle);
            _length = FindEnd(out var dirtyTail);
            if (dirtyTail)
            {
                WriteZeros(SlotsEnd(_length), _physical);
                DataSync(Handle);
            }

        }
        catch
        {
            _spare.Dispose();
            Handle.Dispose();
            throw;
        }
    }

    /// <summary>The file the log is in now.</summary>
    public string LivePath => _paths[_live];

    /// <summary>Bytes on disk, preallocation included (tests).</summary>
    internal long PhysicalLength => _physical;

    public override long Length => _length;

    /// <summary>The path of the second WAL file of the one at <paramref name="path"/>.</summary>
    internal static string SecondPath(string path) =>
        System.IO.Path.Combine(System.IO.Path.GetDirectoryName(path) ?? "", System.IO.Path.GetFileNameWithoutExtension(path) + SecondSuffix + System.IO.Path.GetExtension(path));

    /// <summary>Forces the written bytes to stable storage, and the file's size when it grew.</summary>
    public override void Sync()
    {
        // The sync itself outside the lock: the writer goes on appending while the disk syncs (the group commit).
        // Should a checkpoint move the log meanwhile, the pages drained here are in the data file, synced, by then.
        DataSync(Drain());
        CountSync();
        _observer?.Invoke(new FileEvent("wal", FileEventKind.Sync));
    }

    /// <summary>Writes whole pages, each into its slot with its checksum (LiteDB writes its log a page at a time).</summary>
    /// <exception cref="NotSupportedException">The write is not whole pages at a page boundary.</exception>
    public override void Write(ReadOnlySpan<byte> buffer)
    {
        lock (Gate)
        {
            if (Position % PageSize != 0 || buffer.Length % PageSize != 0)
            {
                throw new NotSupportedException($"The txn log WAL takes whole {PageSize}-byte pages at page boundaries (a write of {buffer.Length} bytes at {Position}).");
            }

            SparePrepared();
            var end = Position + buffer.Length;
            var slotsEnd = SlotsEnd(end);
            if (slotsEnd > _physical)
            {
                // Zeros first, straight to the file: gathered bytes all lie below the old physical end, so the two
                // never overlap, and the gathered bytes land over the zeros when drained.
                Grow(slotsEnd);
            }

            Span<byte> checksum = stackalloc byte[SlotSize - PageSize];
            for (var at = 0; at < buffer.Length; at += PageSize)
            {
                // Page, then its checksum, right after: consecutive slots gather into one write.
                var page = buffer.Slice(at, PageSize);
                var slot = SlotOffset((Position + at) / PageSize);
                BinaryPrimitives.WriteUInt32LittleEndian(checksum, Checksum(page, _generation));
                WriteAt(slot, page);
                WriteAt(slot + PageSize, checksum);
            }

            Position = end;
            _length = Math.Max(_length, end);
        }
    }

    public override int Read(Span<byte> buffer)
    {
        lock (Gate)
        {
            DrainLocked();
            var available = (int)Math.Clamp(_length - Position, 0, buffer.Length);
            var done = 0;
            while (done < available)
            {
                var logical = Position + done;
                var inPage = (int)(logical % PageSize);
                var wanted = Math.Min(available - done, PageSize - inPage);
                var read = RandomAccess.Read(Handle, buffer.Slice(done, wanted), SlotOffset(logical / PageSize) + inPage);
                done += read;
                if (read < wanted)
                {
                    break;
                }
            }

            Position += done;
            return done;
        }
    }

    public override void SetLength(long value)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(value);
        lock (Gate)
        {
            DrainLocked();
            SetLengthDrained(value);
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            try
            {
                _spareReady?.GetAwaiter().GetResult();
            }
            catch (IOException)
            {
                // Preparing the spare failed; the next open's first write prepares it again.
            }

            _spare.Dispose();
        }

        base.Dispose(disposing);
    }

    private void SetLengthDrained(long value)
    {
        if (value >= _length)
        {
            // Only room: LiteDB grows its log by writing pages (its SetLength on the log is the emptying to 0), and
            // nothing past the logical end is read.
            var slotsEnd = SlotsEnd(value);
            if (slotsEnd > _physical)
            {
                Grow(slotsEnd);
            }

            _length = value;
            return;
        }

        if (value % PageSize != 0)
        {
            throw new NotSupportedException($"The txn log WAL is cut at page boundaries only (asked to cut it to {value} bytes).");
        }

        BeforeShrink?.Invoke();
        _observer?.Invoke(new FileEvent("wal", FileEventKind.Shrink));
        if (value == 0)
        {
            MoveToSpare();
            return;
        }

        // The first cut slot is zeroed and synced before the rest, as the first page is when emptying.
        var firstCut = SlotOffset(value / PageSize);
        var end = SlotsEnd(_length);
        WriteZeros(firstCut, firstCut + SlotSize);
        DataSync(Handle);
        WriteZeros(firstCut + SlotSize, end);
        DataSync(Handle);
        _length = value;
        Position = Math.Min(Position, value);
    }

    /// <summary>
    /// Empties the log: its file's first page is zeroed and synced (from then on it reads as empty), and the log
    /// goes on in the other file, all zeros on disk; the rest of the emptied one is zeroed in the background.
    /// </summary>
    private void MoveToSpare()
    {
        WriteZeros(SlotOffset(0), SlotOffset(0) + SlotSize);
        DataSync(Handle);
        // Waits only when checkpoints come faster than a header write and a sync.
        var (sparePhysical, spareGeneration) = SparePrepared().GetAwaiter().GetResult();
        var emptied = Handle;
        var emptiedPhysical = _physical;
        SwitchTo(_spare);
        _spare = emptied;
        _live ^= 1;
        (_length, _physical, _generation) = (0, sparePhysical, spareGeneration);
        Position = 0;
        // The new log gets at least the room the old one had.
        _spareReady = PrepareSpareInBackground(emptied, emptiedPhysical);
    }

    /// <summary>Runs <see cref="PrepareSpare"/> on a thread of its own (<see cref="DiskWork"/>).</summary>
    private static Task<(long Physical, uint Generation)> PrepareSpareInBackground(SafeFileHandle file, long room) =>
        DiskWork.Start(() => PrepareSpare(file, room));

    /// <summary>
    /// Gives <paramref name="file"/> (its first slot blank already) the next generation, so that no page left in it
    /// verifies any more, extends it with zeros to <paramref name="room"/>, and syncs it. Returns its length and its
    /// new generation.
    /// </summary>
    private static (long Physical, uint Generation) PrepareSpare(SafeFileHandle file, long room)
    {
        var physical = RandomAccess.GetLength(file);
        var generation = ReadGeneration(file) + 1;
        Span<byte> field = stackalloc byte[sizeof(uint)];
        BinaryPrimitives.WriteUInt32LittleEndian(field, generation);
        RandomAccess.Write(file, field, GenerationOffset);
        if (physical < room)
        {
            WriteZeros(file, physical, room);
            physical = room;
        }

        DataSync(file);
        return (physical, generation);
    }

    /// <summary>
    /// A slot's checksum: the CRC-32C of its page, mixed with the file's generation (a bijection of it, 0 for 0, so
    /// the files of the build before generations read as generation 0). A page left from an earlier use of the file
    /// fails under the present generation without fail, so emptying the log needs no zeros: only a new generation.
    /// </summary>
    private static uint Checksum(ReadOnlySpan<byte> page, uint generation) => Crc32C.Compute(page) ^ (generation * GenerationMix);

    /// <summary>An odd constant (the 32-bit golden ratio): multiplying by it is a bijection, undone by <see cref="GenerationUnmix"/>.</summary>
    private const uint GenerationMix = 0x9E3779B1;
    private const uint GenerationUnmix = 0x0E8B2F51;

    /// <summary>Where the header holds the file's generation (little-endian), after the magic.</summary>
    private const int GenerationOffset = 8;

    private static uint ReadGeneration(SafeFileHandle file)
    {
        Span<byte> head = stackalloc byte[GenerationOffset + sizeof(uint)];
        return GenerationOf(head[..RandomAccess.Read(file, head, 0)]);
    }

    /// <summary>Where the slot of page <paramref name="page"/> starts in the file.</summary>
    internal static long SlotOffset(long page) => HeaderBytes + (page * SlotSize);

    /// <summary>Where the slots holding LiteDB's first <paramref name="logical"/> bytes end in the file.</summary>
    private static long SlotsEnd(long logical) => SlotOffset((logical + PageSize - 1) / PageSize);

    /// <summary>
    /// The other file's new generation, started on first need. What a previous run left there is unknown, so it gets
    /// a new one before it is used; started by the first write or emptying, not the open, so a reader that writes
    /// nothing (the log dump) leaves the file alone.
    /// </summary>
    private Task<(long Physical, uint Generation)> SparePrepared() => _spareReady ??= PrepareSpareInBackground(_spare, _physical);

    /// <summary>
    /// A new file gets the header; a file with the header is ours. A file without it is from before page checksums:
    /// blank (an emptied log), it becomes ours; with log pages it is refused rather than misread.
    /// </summary>
    private static void EnsureHeader(SafeFileHandle file, string path)
    {
        Span<byte> head = stackalloc byte[PageSize];
        var read = RandomAccess.Read(file, head, 0);
        if (read >= Magic.Length && head[..Magic.Length].SequenceEqual(Magic))
        {
            return;
        }

        if (head[..read].ContainsAnyExcept((byte)0))
        {
            var slot = new byte[SlotSize];
            if (Verifies(slot, RandomAccess.Read(file, slot, SlotOffset(0)), 0))
            {
                // Our format (its first page checks out where a slot starts) with the magic changed: damage, not an old file.
                throw new StorageCorruptionException(
                    CorruptionKind.UnknownFormat,
                    $"txn log WAL {path}",
                    null,
                    $"its header at offset 0 is damaged (no '{System.Text.Encoding.ASCII.GetString(Magic)}'), though the log page after it at offset {HeaderBytes} verifies. " +
                    $"Nothing was changed. {StorageCorruptionException.WhatToDo}");
            }

            throw new InvalidDataException(
                $"{path} has no '{System.Text.Encoding.ASCII.GetString(Magic)}' header at offset 0 and holds data: either its header is damaged, or it is a txn log WAL " +
                "written before page checksums. If the latter, start the previous build on this directory and stop it cleanly (that empties the WAL into the data file), then start this one.");
        }

        // Blank: nothing to lose. The header, then a blank first slot (it overlaps where the old format's second page
        // was); anything old further on fails its check, so it is never read as part of the log.
        var header = new byte[SlotOffset(1)];
        Magic.CopyTo(header);
        RandomAccess.Write(file, header, 0);
    }

    private static ReadOnlySpan<byte> Magic => "ZKWAL v2"u8;

    private static bool IsBlank(SafeFileHandle file, long offset)
    {
        Span<byte> slot = stackalloc byte[SlotSize];
        var read = RandomAccess.Read(file, slot, offset);
        return !slot[..read].ContainsAnyExcept((byte)0);
    }

    /// <summary>
    /// The log's logical length: its pages up to the first slot that is blank or whose page fails its checksum.
    /// <paramref name="dirtyTail"/> when that slot is a failed one or a non-blank slot follows it: pages written
    /// but never synced, which no acknowledged commit owns.
    /// </summary>
    private long FindEnd(out bool dirtyTail)
    {
        var slot = new byte[SlotSize];
        long end = -1;
        dirtyTail = false;
        long page = 0;
        for (; SlotOffset(page + 1) <= _physical; page++)
        {
            var read = RandomAccess.Read(Handle, slot, SlotOffset(page));
            var blank = !slot.AsSpan(0, read).ContainsAnyExcept((byte)0);
            if (end < 0)
            {
                if (blank)
                {
                    end = page;
                }
                else if (!Verifies(slot, read, _generation))
                {
                    if (IsStale(slot, read, _generation))
                    {
                        // A page of the file's earlier use: the log ends here, and nothing after it is ours.
                        end = page;
                        continue;
                    }

                    // Torn (or never finished) by a crash: its commit's sync did not complete. Unless whole pages of
                    // more commits follow than can have been unsynced together: then it is damage (see ThrowIfDamaged).
                    ThrowIfDamaged(page);
                    end = page;
                    dirtyTail = true;
                    break;
                }
            }
            else if (!blank && Verifies(slot, read, _generation))
            {
                dirtyTail = true;
                break;
            }
        }

        return (end < 0 ? page : end) * PageSize;
    }

    /// <summary>
    /// Commits whose pages may be written and not yet synced at the same moment: the pipeline writes batch N+1 while
    /// batch N syncs, and writes N+2 only after N's sync ended (its publisher applies N first). Every other write
    /// (truncation, purge, epochs, checkpoints) syncs before it returns.
    /// </summary>
    internal const int MaxUnsyncedCommits = 2;

    /// <summary>LiteDB's page header: the transaction id (uint, little-endian) at this offset (BasePage.P_TRANSACTION_ID).</summary>
    private const int TransactionIdOffset = 14;

    /// <summary>Does a whole slot (page and checksum) verify under <paramref name="generation"/> (tests read files with it)?</summary>
    internal static bool SlotVerifies(ReadOnlySpan<byte> slot, uint generation) => Verifies(slot, slot.Length, generation);

    /// <summary>The generation in a WAL file's header, given its first bytes (0 for a file too short to hold one).</summary>
    internal static uint GenerationOf(ReadOnlySpan<byte> file) =>
        file.Length >= GenerationOffset + sizeof(uint) ? BinaryPrimitives.ReadUInt32LittleEndian(file[GenerationOffset..]) : 0;

    private static bool Verifies(ReadOnlySpan<byte> slot, int read, uint generation) =>
        read == SlotSize && Checksum(slot[..PageSize], generation) == BinaryPrimitives.ReadUInt32LittleEndian(slot[PageSize..]);

    /// <summary>A whole page written under an earlier generation of the file (a torn page matches one by chance only).</summary>
    private static bool IsStale(ReadOnlySpan<byte> slot, int read, uint generation) =>
        read == SlotSize && generation > 0
        && ((Crc32C.Compute(slot[..PageSize]) ^ BinaryPrimitives.ReadUInt32LittleEndian(slot[PageSize..])) * GenerationUnmix) < generation;

    /// <summary>
    /// A page that fails its checksum is a torn write only if what follows it can be unsynced too: pages of at most
    /// <see cref="MaxUnsyncedCommits"/> LiteDB transactions. Whole pages of more commits after it mean that it was
    /// synced before them (bad disk, or a write from outside): acknowledged commits may lie there, so the open stops
    /// and changes nothing, as Apache ZooKeeper stops at a record whose CRC fails ("CRC check failed").
    /// </summary>
    private void ThrowIfDamaged(long badPage)
    {
        var slot = new byte[SlotSize];
        var commits = new HashSet<uint>();
        var pages = 0;
        for (var page = badPage + 1; SlotOffset(page + 1) <= _physical; page++)
        {
            var read = RandomAccess.Read(Handle, slot, SlotOffset(page));
            if (slot.AsSpan(0, read).ContainsAnyExcept((byte)0) && Verifies(slot, read, _generation))
            {
                pages++;
                commits.Add(BinaryPrimitives.ReadUInt32LittleEndian(slot.AsSpan(TransactionIdOffset)));
            }
        }

        if (commits.Count > MaxUnsyncedCommits)
        {
            throw new StorageCorruptionException(
                CorruptionKind.ChecksumMismatch,
                $"txn log WAL {LivePath}",
                null,
                $"the page at offset {SlotOffset(badPage)} (LiteDB log page {badPage}) fails its CRC check, and {pages} whole pages of {commits.Count} later commits follow it, " +
                $"so it is damage, not a torn last write, and acknowledged txns may be in it or after it. Nothing was cut or checkpointed. {StorageCorruptionException.WhatToDo}");
        }
    }

    private void Grow(long atLeast)
    {
        var chunk = Math.Clamp(_physical, FirstChunkBytes, MaxChunkBytes);
        var target = Math.Max(atLeast, _physical + chunk);
        target = (target + 4095) / 4096 * 4096;
        WriteZeros(_physical, target);
        _physical = target;
    }

    private static void DataSync(SafeFileHandle file)
    {
        if (OperatingSystem.IsLinux())
        {
            // fdatasync skips the inode's timestamps, which an overwrite changes and a reader does not need; the size
            // is still synced when the file grew. That difference is most of the cost of a sync here.
            if (FDataSync((int)file.DangerousGetHandle()) != 0)
            {
                throw new IOException($"fdatasync of a txn log WAL file failed (errno {Marshal.GetLastPInvokeError()}).");
            }
        }
        else
        {
            RandomAccess.FlushToDisk(file);
        }
    }

    [DllImport("libc", EntryPoint = "fdatasync", SetLastError = true)]
    private static extern int FDataSync(int fd);
}
