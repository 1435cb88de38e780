using System.Buffers;
using System.Buffers.Binary;
using LiteDB;
using Zk.Embedded.Api;
using Zk.Embedded.Tree;
using Zk.Embedded.Txns;

namespace Zk.Embedded.Storage;

/// <summary>
/// How a batch of txns is laid out in the log's LiteDB collections. LiteDB refuses a document over ~16 MB
/// (<c>Document size exceed 16683050 limit</c>), and a batch is whatever the pipeline took at once (40 pipelined 1 MB
/// setData make 40 MB), so a batch is cut into documents of at most <see cref="MaxDocumentBytes"/>, all inserted in
/// one LiteDB transaction: still one commit and one sync per batch.
/// </summary>
/// <remarks>
/// <para><b>Batch documents</b> (collection <c>txns</c>): <c>{ _id: last zxid, f: first zxid, r: entries }</c>, each
/// entry <c>zxid:i64be length:i32be record</c> (<see cref="TxnCodec"/>'s checksummed record). Documents never split
/// an entry, so each one decodes alone and is keyed by its own last zxid, as when a batch was always one document:
/// files written before the split read the same way.</para>
/// <para><b>Parts</b> (collection <c>parts</c>): a record larger than <see cref="MaxDocumentBytes"/> (a multi of many
/// 1 MB ops through the in-process API) is stored as <c>{ z: zxid, i: index, d: bytes }</c> documents, and its entry
/// in the batch document is the header with length <see cref="ExternalLength"/> followed by the record's length
/// (i32be). Its checksum covers the whole record, so a missing or changed part is caught when it is decoded.</para>
/// </remarks>
internal static class LogDocuments
{
    public const string TxnCollection = "txns";
    public const string PartCollection = "parts";
    public const string RecordField = "r";
    public const string FirstField = "f";
    public const string PartZxidField = "z";
    public const string PartIndexField = "i";
    public const string PartDataField = "d";

    /// <summary>
    /// A batch document's entries at most (a quarter of LiteDB's limit: a document is copied whole in memory on
    /// insert and read, and its BSON framing adds a little); also the size of a part.
    /// </summary>
    public const int MaxDocumentBytes = 4 << 20;

    /// <summary>Each entry of a batch: the zxid (8 bytes), the record's length (4), then the record (TxnCodec).</summary>
    public const int EntryHeaderBytes = 12;

    /// <summary>The length of an entry whose record is in parts; the record's real length follows the header.</summary>
    public const int ExternalLength = -1;

    /// <summary>
    /// Adds <paramref name="txn"/>'s entry to <paramref name="document"/>, first moving what it holds to
    /// <paramref name="documents"/> when the entry would not fit; a record too large for any document goes to
    /// <paramref name="parts"/>. <paramref name="record"/> is scratch space.
    /// </summary>
    public static void Add(Txn txn, ArrayBufferWriter<byte> record, DocumentBuilder document, List<BsonDocument> documents, List<BsonDocument> parts)
    {
        record.ResetWrittenCount();
        TxnCodec.EncodeTo(txn, record);
        Add(txn.Zxid, record.WrittenSpan, document, documents, parts);
    }

    /// <summary>
    /// Adds the entry of a txn whose record is made already (<see cref="TxnCodec"/>'s, checksum included) to
    /// <paramref name="document"/>, as <see cref="Add(Txn, ArrayBufferWriter{byte}, DocumentBuilder, List{BsonDocument}, List{BsonDocument})"/> does.
    /// </summary>
    public static void Add(Zxid zxid, ReadOnlySpan<byte> record, DocumentBuilder document, List<BsonDocument> documents, List<BsonDocument> parts)
    {
        var length = record.Length;
        var external = length > MaxDocumentBytes;
        var inline = EntryHeaderBytes + (external ? 4 : length);
        if (document.Length > 0 && document.Length + inline > MaxDocumentBytes)
        {
            documents.Add(document.Take());
        }

        var header = document.Append(inline, zxid);
        BinaryPrimitives.WriteInt64BigEndian(header, zxid.Value);
        if (!external)
        {
            BinaryPrimitives.WriteInt32BigEndian(header[8..], length);
            record.CopyTo(header[EntryHeaderBytes..]);
            return;
        }

        BinaryPrimitives.WriteInt32BigEndian(header[8..], ExternalLength);
        BinaryPrimitives.WriteInt32BigEndian(header[EntryHeaderBytes..], length);
        for (int at = 0, index = 0; at < length; at += MaxDocumentBytes, index++)
        {
            parts.Add(new BsonDocument
            {
                [PartZxidField] = zxid.Value,
                [PartIndexField] = index,
                [PartDataField] = record.Slice(at, Math.Min(MaxDocumentBytes, length - at)).ToArray(),
            });
        }
    }

    /// <summary>
    /// The size of the entry at <paramref name="offset"/> inside <paramref name="entries"/> (its inline bytes), or -1
    /// when its header does not fit or claims more than there is. <paramref name="zxid"/> is its zxid.
    /// </summary>
    public static int EntrySize(ReadOnlySpan<byte> entries, int offset, out Zxid zxid)
    {
        zxid = default;
        if (entries.Length - offset < EntryHeaderBytes)
        {
            return -1;
        }

        zxid = new Zxid(BinaryPrimitives.ReadInt64BigEndian(entries[offset..]));
        var length = BinaryPrimitives.ReadInt32BigEndian(entries[(offset + 8)..]);
        if (length == ExternalLength)
        {
            length = 4;
        }

        return length < 0 || length > entries.Length - offset - EntryHeaderBytes ? -1 : EntryHeaderBytes + length;
    }

    /// <summary>How many entries start at or after <paramref name="from"/> (their headers only are read; a bad one counts once).</summary>
    public static int CountEntries(byte[] entries, int from)
    {
        var count = 0;
        for (var offset = from; offset < entries.Length; count++)
        {
            var size = EntrySize(entries, offset, out _);
            if (size < 0)
            {
                return count + 1;
            }

            offset += size;
        }

        return count;
    }

    /// <summary>The txns of one batch document, each verified, in zxid order after <paramref name="previous"/>.</summary>
    /// <param name="readParts">the parts of an external record, by zxid, in index order.</param>
    /// <param name="longLivedData">the txns' znode data is for a tree being recovered (<see cref="TxnCodec.ReadData"/>).</param>
    public static IEnumerable<LoggedTxn> Decode(BsonDocument document, Zxid previous, string location, AclCache? acls, Func<Zxid, List<BsonDocument>> readParts, bool longLivedData = false)
    {
        var id = document["_id"];
        if (!id.IsInt64)
        {
            throw new StorageCorruptionException(CorruptionKind.Undecodable, location, null, $"batch after zxid {previous} has key {id} ({id.Type}), not an Int64 zxid");
        }

        var last = new Zxid(id.AsInt64);
        var records = document[RecordField];
        if (!records.IsBinary)
        {
            throw new StorageCorruptionException(CorruptionKind.Undecodable, location, last, $"field '{RecordField}' is {records.Type}, not Binary");
        }

        var bytes = records.AsBinary;
        var offset = 0;
        var zxid = previous;
        while (offset < bytes.Length)
        {
            var size = EntrySize(bytes, offset, out var key);
            if (size < 0)
            {
                throw new StorageCorruptionException(CorruptionKind.Truncated, location, new Zxid(zxid.Value + 1), $"the entry at offset {offset} of batch {last} does not fit it");
            }

            if (key <= zxid)
            {
                throw new StorageCorruptionException(CorruptionKind.Undecodable, location, key, $"out of order: follows {zxid}");
            }

            var external = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(offset + 8)) == ExternalLength;
            var record = external
                ? Join(readParts(key), key, BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(offset + EntryHeaderBytes)), location)
                : bytes.AsMemory(offset + EntryHeaderBytes, size - EntryHeaderBytes);
            Txn txn;
            try
            {
                txn = TxnCodec.Decode(record, key, acls, longLivedData);
            }
            catch (TxnRecordException e)
            {
                throw new StorageCorruptionException(e.Kind, location, e.Zxid, e.Detail, e);
            }

            offset += size;
            zxid = key;
            yield return new LoggedTxn(txn, record.Length);
        }

        if (zxid != last)
        {
            throw new StorageCorruptionException(CorruptionKind.ZxidMismatch, location, last, $"batch keyed {last} ends at {zxid}");
        }
    }

    /// <summary>An external record put back together from its parts; its checksum is checked by the decoder.</summary>
    private static byte[] Join(List<BsonDocument> parts, Zxid zxid, int length, string location)
    {
        var record = new byte[length];
        var at = 0;
        for (var i = 0; i < parts.Count; i++)
        {
            var data = parts[i][PartDataField];
            var index = parts[i][PartIndexField];
            if (!index.IsInt32 || index.AsInt32 != i || !data.IsBinary || data.AsBinary.Length > length - at)
            {
                throw new StorageCorruptionException(CorruptionKind.Truncated, location, zxid, $"part {i} of a {length}-byte record is missing or does not fit");
            }

            data.AsBinary.CopyTo(record, at);
            at += data.AsBinary.Length;
        }

        if (at != length)
        {
            throw new StorageCorruptionException(CorruptionKind.Truncated, location, zxid, $"its parts hold {at} of the record's {length} bytes");
        }

        return record;
    }

    /// <summary>The entries of the batch document being filled, and the zxids it starts and ends with; reused.</summary>
    internal sealed class DocumentBuilder
    {
        private readonly ArrayBufferWriter<byte> _entries = new(64 * 1024);
        private Zxid _first;
        private Zxid _last;

        public int Length => _entries.WrittenCount;

        /// <summary>Room for an entry of <paramref name="bytes"/> with this zxid, to be filled by the caller.</summary>
        public Span<byte> Append(int bytes, Zxid zxid)
        {
            if (_entries.WrittenCount == 0)
            {
                _first = zxid;
            }

            _last = zxid;
            var span = _entries.GetSpan(bytes)[..bytes];
            _entries.Advance(bytes);
            return span;
        }

        /// <summary>The document of what was appended; empties the builder.</summary>
        public BsonDocument Take()
        {
            var document = new BsonDocument
            {
                ["_id"] = _last.Value,
                [FirstField] = _first.Value,
                [RecordField] = _entries.WrittenSpan.ToArray(),
            };
            _entries.ResetWrittenCount();
            return document;
        }
    }
}

/// <summary>A txn read back from the log, with the size of its encoded record (what holding it costs, roughly).</summary>
internal readonly record struct LoggedTxn(Txn Txn, int RecordBytes);
