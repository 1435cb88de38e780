using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Immutable;
using System.Globalization;
using MessagePack;
using Zk.Embedded.Tree;

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
/// Reading loads the file whole (so a snapshot is limited to 2 GB for now) and checks the checksum before parsing.
/// </remarks>
internal static class SnapshotFile
{
    public const string Prefix = "snapshot.";
    public const int FormatVersion = 1;
    private const string Magic = "zk.embedded.snapshot";
    private const uint EndMarker = 0x45534B5A; // "ZKSE" little-endian
    private const int TrailerBytes = 8;
    private const int NodeFields = 13;

    public static string NameFor(long zxid) => Prefix + zxid.ToString("x16", CultureInfo.InvariantCulture);

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
    public static IReadOnlyList<(long Zxid, string Path)> List(string snapDir)
    {
        var found = new List<(long Zxid, string Path)>();
        if (!Directory.Exists(snapDir))
        {
            return found;
        }

        foreach (var path in Directory.EnumerateFiles(snapDir, Prefix + "*"))
        {
            var suffix = Path.GetFileName(path)[Prefix.Length..];
            if (long.TryParse(suffix, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var zxid))
            {
                found.Add((zxid, path));
            }
        }

        found.Sort((a, b) => b.Zxid.CompareTo(a.Zxid));
        return found;
    }

    /// <summary>Loads and verifies one snapshot.</summary>
    /// <exception cref="StorageCorruptionException">The file is torn, fails its checksum, or does not decode.</exception>
    public static TreeState Read(string path, AclCache? acls = null)
    {
        var location = $"snapshot {path}";
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < TrailerBytes + 1 || BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(bytes.Length - 4)) != EndMarker)
        {
            throw new StorageCorruptionException(CorruptionKind.Truncated, location, null, $"{bytes.Length} bytes and no end marker: the write did not finish");
        }

        var body = bytes.AsMemory(0, bytes.Length - TrailerBytes);
        var stored = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(body.Length));
        var computed = Crc32C.Compute(body.Span);
        if (stored != computed)
        {
            throw new StorageCorruptionException(CorruptionKind.ChecksumMismatch, location, null, $"stored crc32c 0x{stored:x8}, computed 0x{computed:x8} over {body.Length} bytes");
        }

        try
        {
            var reader = new MessagePackReader(body);
            var state = ReadBody(ref reader, acls, location);
            TxnCodec.Expect(reader.End, "no bytes after the last node");
            return state;
        }
        catch (Exception e) when (e is MessagePackSerializationException or EndOfStreamException or InvalidDataException or OverflowException)
        {
            throw new StorageCorruptionException(CorruptionKind.Undecodable, location, null, e.Message, e);
        }
    }

    private static void WriteBody(CrcStreamWriter sink, TreeState state)
    {
        var aclIndex = new Dictionary<AclList, int>();
        var preorder = Preorder(state.Root, aclIndex);
        var writer = new MessagePackWriter(sink);
        writer.WriteArrayHeader(6);
        writer.Write(Magic);
        writer.Write(FormatVersion);
        writer.Write(state.Zxid);
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

        var sessions = state.Sessions.Values.OrderBy(s => s.SessionId).ToArray();
        foreach (var session in sessions)
        {
            writer.WriteArrayHeader(2);
            writer.Write(session.SessionId);
            writer.Write(session.TimeoutMillis);
        }

        foreach (var node in preorder)
        {
            writer.WriteArrayHeader(NodeFields);
            writer.Write(node.Name);
            writer.Write(node.Data);
            writer.Write(aclIndex[node.Acl]);
            writer.Write(node.Czxid);
            writer.Write(node.Mzxid);
            writer.Write(node.Pzxid);
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

    private static TreeState ReadBody(ref MessagePackReader reader, AclCache? cache, string location)
    {
        TxnCodec.Expect(reader.ReadArrayHeader() == 6, "a header of 6");
        TxnCodec.Expect(reader.ReadString() == Magic, $"the magic '{Magic}'");
        var version = reader.ReadInt32();
        if (version != FormatVersion)
        {
            throw new StorageCorruptionException(CorruptionKind.UnknownFormat, location, null, $"snapshot format {version}, this build reads {FormatVersion}");
        }

        var zxid = reader.ReadInt64();
        var nodeCount = reader.ReadInt32();
        var acls = new AclList[reader.ReadInt32()];
        var sessionCount = reader.ReadInt32();
        TxnCodec.Expect(nodeCount >= 1 && sessionCount >= 0, "at least a root node");
        for (var i = 0; i < acls.Length; i++)
        {
            acls[i] = TxnCodec.ReadAcl(ref reader, cache);
        }

        var sessions = ImmutableDictionary.CreateBuilder<long, SessionEntry>();
        for (var i = 0; i < sessionCount; i++)
        {
            TxnCodec.Expect(reader.ReadArrayHeader() == 2, "a session of 2");
            var id = reader.ReadInt64();
            sessions.Add(id, new SessionEntry(id, reader.ReadInt32()));
        }

        var indexes = new IndexBuilder();
        var root = new TreeReader(acls, indexes).ReadTree(ref reader, nodeCount);
        return new TreeState(root, zxid, sessions.ToImmutable(), indexes.Ephemerals(), indexes.Containers.ToImmutable(), indexes.Ttls.ToImmutable())
            .WithQuotasFromTree();
    }

    /// <summary>Rebuilds the tree from preorder nodes with child counts, bottom-up, with an explicit stack (no recursion on deep trees).</summary>
    private sealed class TreeReader(AclList[] acls, IndexBuilder indexes)
    {
        private readonly Stack<Frame> _open = new();

        public ZNode ReadTree(ref MessagePackReader reader, int nodeCount)
        {
            ZNode? root = null;
            for (var i = 0; i < nodeCount; i++)
            {
                TxnCodec.Expect(root is null, $"{nodeCount} nodes under one root");
                var parentPath = _open.Count == 0 ? null : _open.Peek().Path;
                var frame = ReadNode(ref reader, parentPath);
                if (parentPath is not null)
                {
                    indexes.Add(frame.Path, frame.EphemeralOwner);
                }

                if (frame.Remaining > 0)
                {
                    _open.Push(frame);
                    continue;
                }

                var done = frame.Build();
                while (true)
                {
                    if (_open.Count == 0)
                    {
                        root = done;
                        break;
                    }

                    var parent = _open.Peek();
                    parent.Children = parent.Children.Set(done);
                    parent.Descendants += done.Descendants + 1;
                    if (--parent.Remaining > 0)
                    {
                        break;
                    }

                    done = _open.Pop().Build();
                }
            }

            TxnCodec.Expect(root is not null && _open.Count == 0, $"a complete tree in {nodeCount} nodes");
            return root!;
        }

        private Frame ReadNode(ref MessagePackReader reader, string? parentPath)
        {
            TxnCodec.Expect(reader.ReadArrayHeader() == NodeFields, $"a node of {NodeFields}");
            var name = TxnCodec.ReadRequiredString(ref reader);
            var frame = new Frame
            {
                Name = name,
                Path = parentPath is null ? "/" : parentPath == "/" ? "/" + name : parentPath + "/" + name,
                Data = TxnCodec.ReadData(ref reader),
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

    private sealed class Frame
    {
        public string Name = "";
        public string Path = "";
        public byte[]? Data;
        public AclList Acl = AclList.Open;
        public long Czxid, Mzxid, Pzxid, Ctime, Mtime, EphemeralOwner;
        public int Version, CreateCount, Aversion, Remaining, Descendants;
        public ChildMap Children = ChildMap.Empty;

        public ZNode Build() =>
            new(Name, Data, Acl, Children, Czxid, Mzxid, Pzxid, Ctime, Mtime, EphemeralOwner, Version, CreateCount, Aversion, Descendants);
    }
}
