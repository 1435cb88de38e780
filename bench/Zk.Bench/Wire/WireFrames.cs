using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using Zk.Embedded.Api;
using Zk.Embedded.Wire.Jute;

namespace Zk.Bench.Wire;

/// <summary>
/// Request frames encoded once with the product's jute records, so the load loop only copies bytes and patches the
/// xid. Frame layout: length (4, big-endian), xid (4), op (4), record. Replies: length, xid (4), zxid (8), err (4), record.
/// </summary>
internal sealed class WireFrames
{
    /// <summary>Znodes the requests spread over, as in the in-process load tool.</summary>
    public const int KeyCount = 1024;

    public const int XidOffset = 4;
    public const int ReplyErrOffset = 4 + 4 + 8;
    public const string Parent = "/wireload";

    private WireFrames(byte[][] gets, byte[][] sets, byte[][] creates, byte[] createParent)
    {
        Gets = gets;
        Sets = sets;
        Creates = creates;
        CreateParent = createParent;
        var max = 0;
        foreach (var frame in sets)
        {
            max = Math.Max(max, frame.Length);
        }

        foreach (var frame in gets.Concat(creates))
        {
            max = Math.Max(max, frame.Length);
        }

        MaxRequestBytes = max;
    }

    public byte[][] Gets { get; }

    public byte[][] Sets { get; }

    public byte[][] Creates { get; }

    public byte[] CreateParent { get; }

    public int MaxRequestBytes { get; }

    /// <summary>A new session asking for a 30 s timeout: nothing in a run is idle that long, so no pings are needed.</summary>
    public static byte[] Connect() =>
        Frame(null, new ConnectRequest(0, 0, 30_000, 0, new byte[16], false));

    public static byte[] CloseSession() => Frame(new RequestHeader(0, OpCode.CloseSession), default(NoBody));

    public static WireFrames Build(int valueBytes)
    {
        var value = new byte[valueBytes];
        new Random(42).NextBytes(value);
        var gets = new byte[KeyCount][];
        var sets = new byte[KeyCount][];
        var creates = new byte[KeyCount][];
        for (var i = 0; i < KeyCount; i++)
        {
            var path = Parent + "/k" + i.ToString("D4", CultureInfo.InvariantCulture);
            gets[i] = Frame(new RequestHeader(0, OpCode.GetData), new GetDataRequest(path, false));
            sets[i] = Frame(new RequestHeader(0, OpCode.SetData), new SetDataRequest(path, value, -1));
            creates[i] = Frame(new RequestHeader(0, OpCode.Create), new CreateRequest(path, value, Acl.OpenUnsafe, 0));
        }

        var parent = Frame(new RequestHeader(0, OpCode.Create), new CreateRequest(Parent, null, Acl.OpenUnsafe, 0));
        return new WireFrames(gets, sets, creates, parent);
    }

    public static void PatchXid(Span<byte> frame, int xid) => BinaryPrimitives.WriteInt32BigEndian(frame[XidOffset..], xid);

    private static byte[] Frame<T>(RequestHeader? header, in T record)
        where T : IJuteRecord<T>
    {
        var body = new ArrayBufferWriter<byte>(2048);
        if (header is { } h)
        {
            Jute.Encode(h, body);
        }

        Jute.Encode(record, body);
        var frame = new ArrayBufferWriter<byte>(body.WrittenCount + JuteFrame.HeaderBytes);
        JuteFrame.Write(frame, body.WrittenSpan);
        return frame.WrittenSpan.ToArray();
    }

    /// <summary>A request with nothing after its header (closeSession).</summary>
    private readonly struct NoBody : IJuteRecord<NoBody>
    {
        public static bool TryRead(ref JuteReader reader, out NoBody value)
        {
            value = default;
            return true;
        }

        public void Write(ref JuteWriter writer)
        {
        }
    }
}
