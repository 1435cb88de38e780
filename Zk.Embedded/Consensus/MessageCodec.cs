using System.Buffers;
using System.Runtime.CompilerServices;
using MessagePack;
using Zk.Embedded.Api;

namespace Zk.Embedded.Consensus;

/// <summary>
/// The bytes of every <see cref="ZabMessage"/> on a peer transport: one MessagePack array, written field by field
/// with <see cref="MessagePackWriter"/> (no attributes on the records and no reflection, so the records stay plain,
/// the layout is exactly what this file says and a MessagePack upgrade cannot change it; as Storage's TxnCodec).
/// <c>MessageCodecTests</c> freezes the kind numbers and a few encodings.
/// </summary>
/// <remarks>
/// <code>
/// message = [ version=1, kind, field, ... ]
///   2 PROPOSAL     zxid, data, previous        8 INFORM      zxid, data, previous
///   3 ACK          zxid                        4 COMMIT      zxid
///   5 PING         lastCommitted              10 NEWLEADER   epoch, committedThrough, streamEnd
///  11 FOLLOWERINFO acceptedEpoch              16 OBSERVERINFO acceptedEpoch
///  12 UPTODATE     epoch                      13 DIFF        zxid
///  14 TRUNC        zxid                       15 SNAP        zxid, data
///  17 LEADERINFO   epoch                      18 ACKEPOCH    epoch, currentEpoch, lastZxid
/// 100 notification round, leader, zxid, peerEpoch, state
/// 101 ACK of NEWLEADER epoch
///   1 REQUEST      sessionId, cxid, body     102 REPLY       sessionId, cxid, body
/// 103 SESSIONS     ids (packed int64), attached
/// 120 SNAPCHUNK    zxid, offset, total, data  121 SNAPCHUNKACK zxid, received
/// 110 READINDEX    id                        111 READINDEX-REPLY id, index
/// 112 READPROBE    round                     113 READPROBE-ACK   round
/// </code>
/// Kinds 2–18 are ZooKeeper's <c>Leader.java</c> packet numbers; the two that ZooKeeper sends otherwise (FLE's
/// notification on its own port, NEWLEADER's ACK as an ACK of the epoch's zxid) take numbers from 100.
/// Zxids are int64, epochs uint32, data is bin (empty allowed, nil refused).
/// Decoding trusts nothing: the length is checked against a bound first, every count and kind is checked, a
/// claimed length beyond the input fails before anything is allocated, and every failure is an
/// <see cref="InvalidDataException"/> that says what was wrong.
/// </remarks>
internal static class MessageCodec
{
    /// <summary>The format this build writes and reads.</summary>
    public const int FormatVersion = 1;

    /// <summary>Appends the encoding of <paramref name="message"/> to <paramref name="output"/>.</summary>
    public static void Encode(ZabMessage message, IBufferWriter<byte> output)
    {
        var writer = new MessagePackWriter(output);
        var kind = KindOf(message);
        writer.WriteArrayHeader(2 + FieldCount(kind));
        writer.Write(FormatVersion);
        writer.Write((int)kind);
        WriteFields(ref writer, message);
        writer.Flush();
    }

    /// <summary>The encoding of <paramref name="message"/> as one array.</summary>
    public static byte[] Encode(ZabMessage message)
    {
        var buffer = new ArrayBufferWriter<byte>(64);
        Encode(message, buffer);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// Decodes one message of at most <paramref name="maxBytes"/> bytes. Data fields are copied out, so the caller
    /// may release <paramref name="bytes"/> at once.
    /// </summary>
    /// <exception cref="InvalidDataException">The input is too long, truncated, of another format, or not a message.</exception>
    public static ZabMessage Decode(ReadOnlyMemory<byte> bytes, int maxBytes)
    {
        var reader = Open(bytes, maxBytes);
        var message = ReadMessage(ref reader, bytes.Length);
        Expect(reader.End, $"{bytes.Length - reader.Consumed} bytes after the {message.GetType().Name} message");
        return message;
    }

    /// <summary>
    /// Decodes a frame of one or more messages written one after another (a driver batches what it sends one peer in
    /// one transport message), in order, into <paramref name="messages"/>. Messages decoded before a bad one are kept
    /// there when it throws: the rest of the frame is lost, as a lost message would be.
    /// </summary>
    /// <exception cref="InvalidDataException">The frame is too long, empty, or holds something that is not a message.</exception>
    public static void DecodeFrame(ReadOnlyMemory<byte> frame, int maxBytes, List<ZabMessage> messages, TxnArena? arena = null)
    {
        var reader = Open(frame, maxBytes);
        do
            messages.Add(ReadMessage(ref reader, frame.Length, arena));
        while (!reader.End);
    }

    private static MessagePackReader Open(ReadOnlyMemory<byte> bytes, int maxBytes)
    {
        if (bytes.Length > maxBytes)
            throw new InvalidDataException($"consensus message of {bytes.Length} bytes exceeds the bound of {maxBytes}");
        return new MessagePackReader(bytes);
    }

    private static ZabMessage ReadMessage(ref MessagePackReader reader, int length, TxnArena? arena = null)
    {
        try
        {
            var count = reader.ReadArrayHeader();
            Expect(count >= 2, $"a message array has a version and a kind, this one has {count} elements");
            var version = reader.ReadInt32();
            Expect(version == FormatVersion, $"consensus message format {version}, this build reads {FormatVersion}");
            var kind = (MessageKind)reader.ReadInt32();
            Expect(Enum.IsDefined(kind), $"unknown consensus message kind {(int)kind}");
            Expect(count == 2 + FieldCount(kind), $"{kind} has {FieldCount(kind)} fields, this one has {count - 2}");
            return ReadFields(ref reader, kind, arena);
        }
        catch (Exception e) when (e is MessagePackSerializationException or EndOfStreamException or OverflowException)
        {
            throw new InvalidDataException($"undecodable consensus message ({length} bytes): {e.Message}", e);
        }
    }

    private static void WriteFields(ref MessagePackWriter writer, ZabMessage message)
    {
        switch (message)
        {
            case Proposal p:
                WriteTxn(ref writer, p.Txn, p.Previous);
                break;
            case Inform i:
                WriteTxn(ref writer, i.Txn, i.Previous);
                break;
            case Ack or Commit or Ping or Diff or Trunc:
                writer.Write(SoleZxid(message).Value);
                break;
            case LearnerInfo or UpToDate or LeaderInfo or AckNewLeader:
                writer.Write(SoleEpoch(message));
                break;
            case NewLeader n:
                writer.Write(n.Epoch);
                writer.Write(n.CommittedThrough.Value);
                writer.Write(n.StreamEnd.Value);
                break;
            case Snap s:
                writer.Write(s.Snapshot.Zxid.Value);
                writer.Write(s.Snapshot.Data.Span);
                break;
            case SnapChunk c:
                writer.Write(c.Zxid.Value);
                writer.Write(c.Offset);
                writer.Write(c.Total);
                writer.Write(c.Data.Span);
                break;
            case SnapChunkAck c:
                writer.Write(c.Zxid.Value);
                writer.Write(c.Received);
                break;
            case AckEpoch a:
                writer.Write(a.Epoch);
                writer.Write(a.CurrentEpoch);
                writer.Write(a.LastZxid.Value);
                break;
            case Notification n:
                writer.Write(n.Round);
                writer.Write(n.Vote.Leader);
                writer.Write(n.Vote.Zxid.Value);
                writer.Write(n.Vote.PeerEpoch);
                writer.Write((int)n.State);
                break;
            case ForwardedRequest r:
                writer.Write(r.SessionId.Value);
                writer.Write(r.Cxid);
                writer.Write(r.Body.Span);
                writer.Write(r.Stream);
                writer.Write(r.Seq);
                break;
            case ForwardedReply r:
                writer.Write(r.SessionId.Value);
                writer.Write(r.Cxid);
                writer.Write(r.Body.Span);
                writer.Write(r.Stream);
                writer.Write(r.Seq);
                break;
            case ForwardMark m:
                writer.Write(m.Stream);
                writer.Write(m.SentThrough);
                break;
            case ForwardMarkAck a:
                writer.Write(a.Stream);
                writer.Write(a.SentThrough);
                writer.Write(a.Intact);
                writer.Write(a.Replied);
                break;
            case SessionActivity a:
                writer.Write(a.SessionIds.Span);
                break;
            case SessionClaim c:
                writer.Write(c.SessionId.Value);
                writer.Write(c.ClaimId);
                break;
            case SessionClaimAck c:
                writer.Write(c.SessionId.Value);
                writer.Write(c.ClaimId);
                writer.Write(c.Held);
                break;
            case ReadIndexRequest r:
                writer.Write(r.Id);
                break;
            case ReadIndexReply r:
                writer.Write(r.Id);
                writer.Write(r.Index.Value);
                break;
            case ReadProbe r:
                writer.Write(r.Round);
                break;
            case ReadProbeAck r:
                writer.Write(r.Round);
                break;
        }
    }

    private static Zxid SoleZxid(ZabMessage message) => message switch
    {
        Ack a => a.Zxid,
        Commit c => c.Zxid,
        Ping p => p.LastCommitted,
        Diff d => d.Zxid,
        _ => ((Trunc)message).Zxid,
    };

    private static uint SoleEpoch(ZabMessage message) => message switch
    {
        LearnerInfo l => l.AcceptedEpoch,
        UpToDate u => u.Epoch,
        LeaderInfo l => l.Epoch,
        _ => ((AckNewLeader)message).Epoch,
    };

    private static ZabMessage ReadFields(ref MessagePackReader reader, MessageKind kind, TxnArena? arena) => kind switch
    {
        MessageKind.Proposal => new Proposal(ReadTxn(ref reader, arena), ReadZxid(ref reader)),
        MessageKind.Inform => new Inform(ReadTxn(ref reader, arena), ReadZxid(ref reader)),
        MessageKind.Ack => new Ack(ReadZxid(ref reader)),
        MessageKind.Commit => new Commit(ReadZxid(ref reader)),
        MessageKind.Ping => new Ping(ReadZxid(ref reader)),
        MessageKind.NewLeader => new NewLeader(reader.ReadUInt32(), ReadZxid(ref reader), ReadZxid(ref reader)),
        MessageKind.FollowerInfo => new LearnerInfo(reader.ReadUInt32(), IsObserver: false),
        MessageKind.ObserverInfo => new LearnerInfo(reader.ReadUInt32(), IsObserver: true),
        MessageKind.UpToDate => new UpToDate(reader.ReadUInt32()),
        MessageKind.Diff => new Diff(ReadZxid(ref reader)),
        MessageKind.Trunc => new Trunc(ReadZxid(ref reader)),
        MessageKind.Snap => new Snap(new ConsensusSnapshot(ReadZxid(ref reader), ReadData(ref reader))),
        MessageKind.LeaderInfo => new LeaderInfo(reader.ReadUInt32()),
        MessageKind.AckEpoch => new AckEpoch(reader.ReadUInt32(), reader.ReadInt64(), ReadZxid(ref reader)),
        MessageKind.Notification => ReadNotification(ref reader),
        MessageKind.AckNewLeader => new AckNewLeader(reader.ReadUInt32()),
        MessageKind.Request => new ForwardedRequest(new SessionId(reader.ReadInt64()), reader.ReadInt32(), ReadData(ref reader), reader.ReadInt64(), reader.ReadInt64()),
        MessageKind.Reply => new ForwardedReply(new SessionId(reader.ReadInt64()), reader.ReadInt32(), ReadData(ref reader), reader.ReadInt64(), reader.ReadInt64()),
        MessageKind.ForwardMark => new ForwardMark(reader.ReadInt64(), reader.ReadInt64()),
        MessageKind.ForwardMarkAck => new ForwardMarkAck(reader.ReadInt64(), reader.ReadInt64(), reader.ReadBoolean(), reader.ReadInt64()),
        MessageKind.Sessions => new SessionActivity(ReadData(ref reader)),
        MessageKind.SessionClaim => new SessionClaim(new SessionId(reader.ReadInt64()), reader.ReadInt64()),
        MessageKind.SessionClaimAck => new SessionClaimAck(new SessionId(reader.ReadInt64()), reader.ReadInt64(), reader.ReadBoolean()),
        MessageKind.SnapChunk => ReadSnapChunk(ref reader),
        MessageKind.SnapChunkAck => new SnapChunkAck(ReadZxid(ref reader), reader.ReadInt64()),
        MessageKind.ReadIndex => new ReadIndexRequest(reader.ReadInt64()),
        MessageKind.ReadIndexReply => new ReadIndexReply(reader.ReadInt64(), ReadZxid(ref reader)),
        MessageKind.ReadProbe => new ReadProbe(reader.ReadInt64()),
        MessageKind.ReadProbeAck => new ReadProbeAck(reader.ReadInt64()),
        _ => throw new InvalidDataException($"unknown consensus message kind {(int)kind}"),
    };

    private static Notification ReadNotification(ref MessagePackReader reader)
    {
        var round = reader.ReadInt64();
        var vote = new Vote(reader.ReadInt32(), ReadZxid(ref reader), reader.ReadInt64());
        var state = (ServerState)reader.ReadInt32();
        Expect(Enum.IsDefined(state), $"unknown server state {(int)state} in a notification");
        return new Notification(round, vote, state);
    }

    private static SnapChunk ReadSnapChunk(ref MessagePackReader reader)
    {
        var zxid = ReadZxid(ref reader);
        var offset = reader.ReadInt64();
        var total = reader.ReadInt64();
        var data = ReadData(ref reader);
        Expect(offset >= 0 && total >= 0 && offset + data.Length <= total, $"a snapshot chunk of {data.Length} bytes at {offset} of {total}");
        return new SnapChunk(zxid, offset, total, data);
    }

    private static void WriteTxn(ref MessagePackWriter writer, ConsensusTxn txn, Zxid previous)
    {
        writer.Write(txn.Zxid.Value);
        writer.Write(txn.Data.Span);
        writer.Write(previous.Value);
    }

    /// <summary>A txn's record is copied into <paramref name="arena"/> when one is given: the log window keeps it.</summary>
    private static ConsensusTxn ReadTxn(ref MessagePackReader reader, TxnArena? arena)
    {
        var zxid = ReadZxid(ref reader);
        if (arena is null)
            return new(zxid, ReadData(ref reader));
        var bytes = ReadBin(ref reader);
        return new(zxid, bytes.IsSingleSegment ? arena.Copy(bytes.FirstSpan) : arena.Copy(bytes.ToArray()));
    }

    private static Zxid ReadZxid(ref MessagePackReader reader) => new(reader.ReadInt64());

    /// <summary>Copies a bin field out; ReadBytes checks the claimed length against the input before anything is allocated.</summary>
    private static byte[] ReadData(ref MessagePackReader reader) => ReadBin(ref reader).ToArray();

    /// <summary>A bin field that txn and snapshot data require (never nil), still in the input.</summary>
    private static ReadOnlySequence<byte> ReadBin(ref MessagePackReader reader)
    {
        Expect(!reader.TryReadNil(), "nil where txn or snapshot data is required");
        return reader.ReadBytes()!.Value;
    }

    private static MessageKind KindOf(ZabMessage message) => message switch
    {
        Proposal => MessageKind.Proposal,
        Inform => MessageKind.Inform,
        Ack => MessageKind.Ack,
        Commit => MessageKind.Commit,
        Ping => MessageKind.Ping,
        NewLeader => MessageKind.NewLeader,
        LearnerInfo { IsObserver: true } => MessageKind.ObserverInfo,
        LearnerInfo => MessageKind.FollowerInfo,
        UpToDate => MessageKind.UpToDate,
        Diff => MessageKind.Diff,
        Trunc => MessageKind.Trunc,
        Snap => MessageKind.Snap,
        LeaderInfo => MessageKind.LeaderInfo,
        AckEpoch => MessageKind.AckEpoch,
        Notification => MessageKind.Notification,
        AckNewLeader => MessageKind.AckNewLeader,
        ForwardedRequest => MessageKind.Request,
        ForwardedReply => MessageKind.Reply,
        SessionActivity => MessageKind.Sessions,
        SessionClaim => MessageKind.SessionClaim,
        SessionClaimAck => MessageKind.SessionClaimAck,
        ForwardMark => MessageKind.ForwardMark,
        ForwardMarkAck => MessageKind.ForwardMarkAck,
        SnapChunk => MessageKind.SnapChunk,
        SnapChunkAck => MessageKind.SnapChunkAck,
        ReadIndexRequest => MessageKind.ReadIndex,
        ReadIndexReply => MessageKind.ReadIndexReply,
        ReadProbe => MessageKind.ReadProbe,
        ReadProbeAck => MessageKind.ReadProbeAck,
        _ => throw new ArgumentException($"no encoding for consensus message {message.GetType().Name}", nameof(message)),
    };

    private static int FieldCount(MessageKind kind) => kind switch
    {
        MessageKind.Proposal or MessageKind.Inform or MessageKind.NewLeader or MessageKind.AckEpoch => 3,
        MessageKind.Request or MessageKind.Reply => 5,
        MessageKind.SessionClaimAck => 3,
        MessageKind.ForwardMarkAck => 4,
        MessageKind.Snap or MessageKind.SessionClaim or MessageKind.SnapChunkAck or MessageKind.ReadIndexReply or MessageKind.ForwardMark => 2,
        MessageKind.Notification => 5,
        MessageKind.SnapChunk => 4,
        _ => 1,
    };

    private static void Expect(bool condition, string what)
    {
        if (!condition)
            throw new InvalidDataException($"undecodable consensus message: {what}");
    }

    private static void Expect(bool condition, [InterpolatedStringHandlerArgument(nameof(condition))] ref FailureText what)
    {
        if (!condition)
            throw new InvalidDataException($"undecodable consensus message: {what.ToString()}");
    }
}

/// <summary>The kind numbers of <see cref="MessageCodec"/>: on the wire between peers, never renumbered.</summary>
internal enum MessageKind
{
    Request = 1,
    Proposal = 2,
    Ack = 3,
    Commit = 4,
    Ping = 5,
    Inform = 8,
    NewLeader = 10,
    FollowerInfo = 11,
    UpToDate = 12,
    Diff = 13,
    Trunc = 14,
    Snap = 15,
    ObserverInfo = 16,
    LeaderInfo = 17,
    AckEpoch = 18,
    Notification = 100,
    AckNewLeader = 101,
    Reply = 102,
    Sessions = 103,
    SessionClaim = 104,
    SessionClaimAck = 105,
    ForwardMark = 106,
    ForwardMarkAck = 107,
    SnapChunk = 120,
    SnapChunkAck = 121,
    // 110–119: the read index (docs/consensus.md, "Linearizable reads"); no ZooKeeper packet.
    ReadIndex = 110,
    ReadIndexReply = 111,
    ReadProbe = 112,
    ReadProbeAck = 113,
}
