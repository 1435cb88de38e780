using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Immutable;
using System.Globalization;
using System.Runtime.CompilerServices;
using MessagePack;
using Microsoft.Win32.SafeHandles;
using Zk.Embedded.Api;
using Zk.Embedded.Tree;
using Zk.Embedded.Txns;

namespace Zk.Embedded.Storage;

/// <summary>
/// A whole <see cref="TreeState"/> in one file, <c>snapshot.&lt;zxid as 16 hex digits&gt;</c>. A TreeState is
/// immutable, so a snapshot is exact at its zxid even while writes go on (ZooKeeper's are fuzzy); recovery loads
/// the newest valid one and replays the log after its zxid.
/// </summary>
/// <remarks>
/// <code>
/// file     = body  crc32c(body):u32le  "ZKSE"
/// body     = [ "zk.embedded.snapshot", version=1, zxid, nodeCount, aclCount, sessionCount ]
///            acl × aclCount                       (the ACL table; nodes refer to it by index, like ZooKeeper's)
///            [ sessionId, timeoutMillis ] × sessionCount
///            node × nodeCount, in preorder, children in ordinal name order
/// node     = [ name, data|nil, aclIndex, czxid, mzxid, pzxid, ctime, mtime, ephemeralOwner, version,
///              createCount, aversion, childCount ]
/// </code>
/// The ephemeral, container and TTL indexes are not stored: loading rebuilds them from the nodes' owners, as
/// <c>TxnApplier</c> maintains them. Written to a <c>.tmp</c> file, fsynced, renamed, then the directory fsynced.
/// Reading streams the file through a small buffer, decoding and checksumming in one pass; a decode error is
/// reported as a checksum mismatch when the checksum fails too.
/// </remarks>
internal static class SnapshotFile
{
    public const string Prefix = "snapshot.";
    public const int FormatVersion = 1;
    private const string Magic = "zk.embedded.snapshot";
    private const uint EndMarker = 0x45534B5A; // "ZKSE" little-endian
    private const int TrailerBytes = 8;
    private const int NodeFields = 13;

    public static string NameFor(Zxid zxid) => Prefix + zxid.Value.ToString("x16", CultureInfo.InvariantCulture);

    /// <summary>Writes <paramref name="state"/> durably into <paramref name="snapDir"/>; returns the file's path.</summary>
    public static string Write(string snapDir, TreeState state)
    {
        Directory.CreateDirectory(snapDir);
        var path = Path.Combine(snapDir, NameFor(state.Zxid));
        var temp = path + ".tmp";
        using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0))
        {
            var sink = new CrcStreamWriter(file);
            WriteBody(sink, state);
            sink.Complete();
            Span<byte> trailer = stackalloc byte[TrailerBytes];
            BinaryPrimitives.WriteUInt32LittleEndian(trailer, sink.Crc);
            BinaryPrimitives.WriteUInt32LittleEndian(trailer[4..], EndMarker);
            file.Write(trailer);
            file.Flush(flushToDisk: true);
        }

        File.Move(temp, path, overwrite: true);
        DirectorySync.Sync(snapDir);
        return path;
    }

    /// <summary>The snapshots in <paramref name="snapDir"/>, newest (highest zxid) first.</summary>
    public static IReadOnlyList<(Zxid Zxid, string Path)> List(string snapDir)
    {
        var found = new List<(Zxid Zxid, string Path)>();
        if (!Directory.Exists(snapDir))
        {
            return found;
        }

        foreach (var path in Directory.EnumerateFiles(snapDir, Prefix + "*"))
        {
            var suffix = Path.GetFileName(path)[Prefix.Length..];
            if (long.TryParse(suffix, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var zxid))
            {
                found.Add((new Zxid(zxid), path));
            }
        }

        found.Sort((a, b) => b.Zxid.CompareTo(a.Zxid));
        return found;
    }

    /// <summary>
    /// Autopurge's first half: deletes every snapshot in <paramref name="snapDir"/> but the newest
    /// <paramref name="retain"/> (at least 1). Returns the oldest one kept (the log from it on is what the purge keeps),
    /// how many were kept and how many went, or null when there were no more than that.
    /// </summary>
    public static (Zxid OldestKept, int Kept, int Deleted)? DeleteAllButNewest(string snapDir, int retain)
    {
        var kept = Math.Max(1, retain);
        var snapshots = List(snapDir);
        if (snapshots.Count <= kept)
        {
            return null;
        }

        for (var i = kept; i < snapshots.Count; i++)
        {
            File.Delete(snapshots[i].Path);
        }

        return (snapshots[kept - 1].Zxid, kept, snapshots.Count - kept);
    }

    /// <summary>Loads and verifies one snapshot.</summary>
    /// <exception cref="StorageCorruptionException">The file is torn, fails its checksum, or does not decode.</exception>
    public static TreeState Read(string path, AclCache? acls = null)
    {
        var location = $"snapshot {path}";
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.SequentialScan);
        var length = RandomAccess.GetLength(handle);
        Span<byte> trailer = stackalloc byte[TrailerBytes];
        if (length < TrailerBytes + 1
            || RandomAccess.Read(handle, trailer, length - TrailerBytes) != TrailerBytes
            || BinaryPrimitives.ReadUInt32LittleEndian(trailer[4..]) != EndMarker)
        {
            throw new StorageCorruptionException(CorruptionKind.Truncated, location, null, $"{length} bytes and no end marker: the write did not finish");
        }

        // One pass: the body is decoded as it streams through a small buffer and checksummed on the way. Reading it
        // whole first (as this did) made a fresh process fault in and copy a file-sized array (0.9 GB for 1 M 1 KiB
        // znodes) only to drop it; on a VM whose fresh pages are costly that was a third of a cold recovery. A
        // decode error is only reported once the checksum is known, so damaged bytes still say ChecksumMismatch.
        var stored = BinaryPrimitives.ReadUInt32LittleEndian(trailer);
        var body = new BodyReader(handle, length - TrailerBytes);
        TreeState? state = null;
        StorageCorruptionException? failure = null;
        try
        {
            state = ReadBody(body, acls, location);
            TxnCodec.Expect(body.AtEnd, "no bytes after the last node");
        }
        catch (StorageCorruptionException e)
        {
            failure = e; // an unknown format version
        }
        catch (Exception e) when (e is MessagePackSerializationException or EndOfStreamException or InvalidDataException or OverflowException)
        {
            failure = new StorageCorruptionException(CorruptionKind.Undecodable, location, null, e.Message, e);
        }

        uint computed;
        try
        {
            computed = body.FinishCrc();
        }
        catch (EndOfStreamException e)
        {
            throw new StorageCorruptionException(CorruptionKind.Truncated, location, null, e.Message, e);
        }

        if (stored != computed)
        {
            throw new StorageCorruptionException(CorruptionKind.ChecksumMismatch, location, null, $"stored crc32c 0x{stored:x8}, computed 0x{computed:x8} over {length - TrailerBytes} bytes");
        }

        return failure is null ? state! : throw failure;
    }

    private static void WriteBody(CrcStreamWriter sink, TreeState state)
    {
        var aclIndex = new Dictionary<AclList, int>();
        var preorder = Preorder(state.Root, aclIndex);
        var writer = new MessagePackWriter(sink);
        writer.WriteArrayHeader(6);
        writer.Write(Magic);
        writer.Write(FormatVersion);
        writer.Write(state.Zxid.Value);
        writer.Write(preorder.Count);
        writer.Write(aclIndex.Count);
        writer.Write(state.Sessions.Count);
        var acls = new AclList[aclIndex.Count];
        foreach (var (acl, index) in aclIndex)
        {
            acls[index] = acl;
        }

        foreach (var acl in acls)
        {
            TxnCodec.WriteAcl(ref writer, acl);
        }

        var sessions = state.Sessions.Values.OrderBy(s => s.SessionId.Value).ToArray();
        foreach (var session in sessions)
        {
            writer.WriteArrayHeader(2);
            writer.Write(session.SessionId.Value);
            writer.Write(session.TimeoutMillis);
        }

        foreach (var node in preorder)
        {
            writer.WriteArrayHeader(NodeFields);
            writer.Write(node.Name);
            writer.Write(node.Data);
            writer.Write(aclIndex[node.Acl]);
            writer.Write(node.Czxid.Value);
            writer.Write(node.Mzxid.Value);
            writer.Write(node.Pzxid.Value);
            writer.Write(node.Ctime);
            writer.Write(node.Mtime);
            writer.Write(node.EphemeralOwner);
            writer.Write(node.Version);
            writer.Write(node.CreateCount);
            writer.Write(node.Aversion);
            writer.Write(node.Children.Count);
            writer.Flush(); // hands the bytes to the sink, which spills to the file every 64 KiB
        }

        writer.Flush();
    }

    /// <summary>All nodes in preorder, children by ordinal name (so equal trees give equal bytes); fills the ACL table.</summary>
    private static List<ZNode> Preorder(ZNode root, Dictionary<AclList, int> aclIndex)
    {
        var order = new List<ZNode>(root.Descendants + 1);
        var stack = new Stack<ZNode>();
        stack.Push(root);
        while (stack.Count > 0)
        {
            var node = stack.Pop();
            order.Add(node);
            aclIndex.TryAdd(node.Acl, aclIndex.Count);
            var names = node.Children.Names().ToArray();
            Array.Sort(names, StringComparer.Ordinal);
            for (var i = names.Length - 1; i >= 0; i--)
            {
                stack.Push(node.Children.Find(names[i])!);
            }
        }

        return order;
    }

    private static TreeState ReadBody(BodyReader body, AclCache? cache, string location)
    {
        var header = new HeaderReader();
        body.ReadItems(1, header);
        if (header.Version != FormatVersion)
        {
            throw new StorageCorruptionException(CorruptionKind.UnknownFormat, location, null, $"snapshot format {header.Version}, this build reads {FormatVersion}");
        }

        // The checksum is only known at the end: counts from a damaged header must not size an allocation. Every
        // ACL, session and node takes at least one byte.
        TxnCodec.Expect(header.NodeCount >= 1 && header.SessionCount >= 0 && header.AclCount >= 0, "at least a root node");
        TxnCodec.Expect((long)header.NodeCount + header.AclCount + header.SessionCount <= body.Length, "no more entries than bytes");
        var acls = new AclTableReader(new AclList[header.AclCount], cache);
        body.ReadItems(header.AclCount, acls);
        var sessions = new SessionReader();
        body.ReadItems(header.SessionCount, sessions);
        var indexes = new IndexBuilder();
        var tree = new TreeReader(acls.Table, indexes, header.NodeCount);
        body.ReadItems(header.NodeCount, tree);
        return new TreeState(tree.Root(), new Zxid(header.Zxid), sessions.Table.ToImmutable(), indexes.Ephemerals(), indexes.Containers.ToImmutable(), indexes.Ttls.ToImmutable())
            .WithQuotasFromTree();
    }

    /// <summary>Decodes one top-level value of the body. May run again on the same bytes after a refill (see
    /// <see cref="BodyReader.ReadItems"/>), so it reads the whole value before changing any state.</summary>
    private interface IItemReader
    {
        void ReadItem(ref MessagePackReader reader);
    }

    /// <summary>
    /// The snapshot body, read sequentially through one buffer (1 MiB, grown only for a value larger than that) and
    /// checksummed as it is read, so loading needs memory for the tree and not for the file.
    /// </summary>
    private sealed class BodyReader(SafeFileHandle handle, long length)
    {
        private const int InitialBufferBytes = 1 << 20;

        /// <summary>Unread bytes kept in the window before each value when the file has more: any value smaller than this
        /// decodes without a refill (a 1 KiB znode is ~1.1 KB); a larger one is retried with more bytes.</summary>
        private const int Lookahead = 64 * 1024;

        private byte[] _buffer = new byte[InitialBufferBytes];
        private int _start;
        private int _end;
        private long _fileOffset;
        private uint _crc = ~0u;

        public long Length => length;

        /// <summary>Every body byte was read and decoded.</summary>
        public bool AtEnd => _start == _end && _fileOffset == length;

        private bool FileDone => _fileOffset == length;

        /// <summary>Decodes <paramref name="count"/> values with <paramref name="items"/>, refilling the window between values.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void ReadItems<TItems>(int count, TItems items)
            where TItems : IItemReader
        {
            var done = 0;
            while (done < count)
            {
                if (_end - _start < Lookahead && !FileDone)
                {
                    Fill(Lookahead);
                }

                var window = _buffer.AsMemory(_start, _end - _start);
                var reader = new MessagePackReader(window);
                long decoded = 0;
                try
                {
                    do
                    {
                        items.ReadItem(ref reader);
                        decoded = reader.Consumed;
                        done++;
                    }
                    while (done < count && (FileDone || window.Length - decoded >= Lookahead));
                }
                catch (EndOfStreamException) when (!FileDone)
                {
                    // A value larger than the lookahead ran past the window: decode it again with twice the bytes.
                    _start += (int)decoded;
                    Fill(Math.Max(2 * (_end - _start), Lookahead));
                    continue;
                }

                _start += (int)decoded;
            }
        }

        /// <summary>The CRC-32C of the whole body, reading (and checksumming) what decoding did not reach.</summary>
        public uint FinishCrc()
        {
            while (!FileDone)
            {
                _start = _end = 0;
                Fill(_buffer.Length);
            }

            return ~_crc;
        }

        /// <summary>Makes at least <paramref name="wanted"/> bytes unread in the window, or all the file has left.</summary>
        private void Fill(int wanted)
        {
            var unread = _end - _start;
            if (wanted > _buffer.Length)
            {
                var larger = new byte[(int)Math.Min(Math.Max(wanted, 2L * _buffer.Length), Array.MaxLength)];
                Array.Copy(_buffer, _start, larger, 0, unread);
                _buffer = larger;
            }
            else if (_start > 0)
            {
                Array.Copy(_buffer, _start, _buffer, 0, unread);
            }

            (_start, _end) = (0, unread);
            while (_end < wanted && !FileDone)
            {
                var room = (int)Math.Min(_buffer.Length - _end, length - _fileOffset);
                var read = RandomAccess.Read(handle, _buffer.AsSpan(_end, room), _fileOffset);
                if (read <= 0)
                {
                    throw new EndOfStreamException($"the snapshot ended at byte {_fileOffset} of {length}: it changed while being read");
                }

                _crc = Crc32C.Update(_crc, _buffer.AsSpan(_end, read));
                _end += read;
                _fileOffset += read;
            }
        }
    }

    private sealed class HeaderReader : IItemReader
    {
        public int Version;
        public long Zxid;
        public int NodeCount, AclCount, SessionCount;

        public void ReadItem(ref MessagePackReader reader)
        {
            TxnCodec.Expect(reader.ReadArrayHeader() == 6, "a header of 6");
            TxnCodec.Expect(reader.ReadString() == Magic, $"the magic '{Magic}'");
            Version = reader.ReadInt32();
            if (Version != FormatVersion)
            {
                return; // the caller names the version; later fields may not mean the same
            }

            (Zxid, NodeCount, AclCount, SessionCount) = (reader.ReadInt64(), reader.ReadInt32(), reader.ReadInt32(), reader.ReadInt32());
        }
    }

    private sealed class AclTableReader(AclList[] table, AclCache? cache) : IItemReader
    {
        private int _next;

        public AclList[] Table => table;

        public void ReadItem(ref MessagePackReader reader)
        {
            var acl = TxnCodec.ReadAcl(ref reader, cache);
            table[_next++] = acl;
        }
    }

    private sealed class SessionReader : IItemReader
    {
        public ImmutableDictionary<SessionId, SessionEntry>.Builder Table { get; } = ImmutableDictionary.CreateBuilder<SessionId, SessionEntry>();

        public void ReadItem(ref MessagePackReader reader)
        {
            TxnCodec.Expect(reader.ReadArrayHeader() == 2, "a session of 2");
            var id = new SessionId(reader.ReadInt64());
            var timeout = reader.ReadInt32();
            TxnCodec.Expect(!Table.ContainsKey(id), "each session once");
            Table.Add(id, new SessionEntry(id, timeout));
        }
    }

    /// <summary>
    /// Rebuilds the tree from preorder nodes with child counts, bottom-up, with explicit stacks (no recursion on deep
    /// trees). A node is built when its last child is: its children wait on one shared stack and become its
    /// <see cref="ChildMap"/> in one <see cref="ChildMap.FromChildren"/>, and open nodes are structs on an array stack,
    /// so what is allocated is what the tree keeps (plus the trie's arrays), not a map version per child nor a frame
    /// object and a path string per node: with 1 M znodes the young-generation GCs then find almost everything alive.
    /// </summary>
    private sealed class TreeReader(AclList[] acls, IndexBuilder indexes, int nodeCount) : IItemReader
    {
        private Frame[] _open = new Frame[16];
        private int _depth;
        private ZNode[] _finished = new ZNode[1024];
        private int _finishedCount;
        private ZNode? _root;

        public ZNode Root()
        {
            TxnCodec.Expect(_root is not null && _depth == 0, $"a complete tree in {nodeCount} nodes");
            return _root!;
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void ReadItem(ref MessagePackReader reader)
        {
            TxnCodec.Expect(_root is null, $"{nodeCount} nodes under one root");
            var frame = ReadNode(ref reader);
            if (_depth > 0 && frame.EphemeralOwner != 0)
            {
                indexes.Add(PathOf(frame.Name), frame.EphemeralOwner);
            }

            frame.FirstChild = _finishedCount;
            if (frame.Remaining > 0)
            {
                if (_depth == _open.Length)
                {
                    Array.Resize(ref _open, _depth * 2);
                }

                _open[_depth++] = frame;
                return;
            }

            var done = Build(ref frame);
            while (true)
            {
                if (_depth == 0)
                {
                    _root = done;
                    return;
                }

                if (_finishedCount == _finished.Length)
                {
                    Array.Resize(ref _finished, _finishedCount * 2);
                }

                _finished[_finishedCount++] = done;
                ref var parent = ref _open[_depth - 1];
                parent.Descendants += done.Descendants + 1;
                if (--parent.Remaining > 0)
                {
                    return;
                }

                done = Build(ref parent);
                _depth--;
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private ZNode Build(ref Frame frame)
        {
            var children = _finished.AsSpan(frame.FirstChild, _finishedCount - frame.FirstChild);
            var map = ChildMap.FromChildren(children);
            children.Clear();
            _finishedCount = frame.FirstChild;
            return new ZNode(frame.Name, frame.Data, frame.Acl, map, new Zxid(frame.Czxid), new Zxid(frame.Mzxid), new Zxid(frame.Pzxid), frame.Ctime, frame.Mtime,
                frame.EphemeralOwner, frame.Version, frame.CreateCount, frame.Aversion, frame.Descendants);
        }

        /// <summary>The path of a child of the open nodes (only owned nodes need one, for the indexes).</summary>
        private string PathOf(string name)
        {
            var path = new System.Text.StringBuilder();
            for (var i = 1; i < _depth; i++)
            {
                path.Append('/').Append(_open[i].Name);
            }

            return path.Append('/').Append(name).ToString();
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private Frame ReadNode(ref MessagePackReader reader)
        {
            TxnCodec.Expect(reader.ReadArrayHeader() == NodeFields, $"a node of {NodeFields}");
            var frame = new Frame
            {
                Name = TxnCodec.ReadRequiredString(ref reader),
                Data = TxnCodec.ReadData(ref reader, longLived: true),
            };
            var aclIndex = reader.ReadInt32();
            TxnCodec.Expect((uint)aclIndex < (uint)acls.Length, "an ACL index inside the table");
            frame.Acl = acls[aclIndex];
            (frame.Czxid, frame.Mzxid, frame.Pzxid) = (reader.ReadInt64(), reader.ReadInt64(), reader.ReadInt64());
            (frame.Ctime, frame.Mtime, frame.EphemeralOwner) = (reader.ReadInt64(), reader.ReadInt64(), reader.ReadInt64());
            (frame.Version, frame.CreateCount, frame.Aversion) = (reader.ReadInt32(), reader.ReadInt32(), reader.ReadInt32());
            frame.Remaining = reader.ReadInt32();
            TxnCodec.Expect(frame.Remaining >= 0, "a child count of 0 or more");
            return frame;
        }
    }

    /// <summary>A node read but not built yet: it waits for its <see cref="Remaining"/> children.</summary>
    private struct Frame
    {
        public string Name;
        public byte[]? Data;
        public AclList Acl;
        public long Czxid, Mzxid, Pzxid, Ctime, Mtime, EphemeralOwner;
        public int Version, CreateCount, Aversion, Remaining, Descendants;

        /// <summary>Where this node's finished children start on the shared stack.</summary>
        public int FirstChild;
    }
}
