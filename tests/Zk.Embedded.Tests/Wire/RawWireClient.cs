using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Zk.Embedded.Api;
using Zk.Embedded.Wire.Jute;

namespace Zk.Embedded.Tests.Wire;

/// <summary>A bare ZooKeeper wire client for tests: writes frames, reads frames, with deadlines on every read.</summary>
internal sealed class RawWireClient : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);
    private readonly Socket _socket;

    private RawWireClient(Socket socket) => _socket = socket;

    /// <param name="from">the client's own address (any of 127.0.0.0/8 works on loopback); null lets the system choose.</param>
    public static async Task<RawWireClient> OpenAsync(IPEndPoint endPoint, IPAddress? from = null)
    {
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        if (from is not null)
        {
            socket.Bind(new IPEndPoint(from, 0));
        }

        await socket.ConnectAsync(endPoint);
        socket.ReceiveTimeout = (int)Deadline.TotalMilliseconds;
        return new RawWireClient(socket);
    }

    /// <summary>Opens a connection and a new session; returns the client and the connect response.</summary>
    public static async Task<(RawWireClient Client, ConnectResponse Response)> ConnectAsync(IPEndPoint endPoint, int timeoutMs = 10_000, long sessionId = 0, byte[]? password = null, IPAddress? from = null)
    {
        var client = await OpenAsync(endPoint, from);
        client.Send(new ConnectRequest(0, 0, timeoutMs, sessionId, password ?? new byte[16], false));
        var frame = client.ReceiveFrame() ?? throw new InvalidOperationException("expected a connect response, the connection closed");
        return (client, Jute.Decode<ConnectResponse>(frame));
    }

    public void Send<T>(in T record)
        where T : IJuteRecord<T>
    {
        var body = Jute.ToArray(record);
        SendRaw(Frame(body));
    }

    public void SendRequest<T>(int xid, OpCode type, in T record)
        where T : IJuteRecord<T>
    {
        var header = Jute.ToArray(new RequestHeader(xid, type));
        var body = Jute.ToArray(record);
        SendRaw(Frame([.. header, .. body]));
    }

    public void SendHeaderOnly(int xid, OpCode type) => SendRaw(Frame(Jute.ToArray(new RequestHeader(xid, type))));

    public void SendRaw(ReadOnlySpan<byte> bytes) => _socket.Send(bytes);

    /// <summary>The next frame's body, or null when the server closed the connection.</summary>
    public byte[]? ReceiveFrame()
    {
        var header = ReceiveExactly(4);
        if (header is null)
        {
            return null;
        }

        var length = BinaryPrimitives.ReadInt32BigEndian(header);
        return ReceiveExactly(length) ?? throw new InvalidOperationException($"connection closed inside a {length}-byte frame");
    }

    /// <summary>Reads the next reply header and the rest of its frame.</summary>
    public (ReplyHeader Header, byte[] Body) ReceiveReply()
    {
        var frame = ReceiveFrame() ?? throw new InvalidOperationException("expected a reply, the connection closed");
        var reader = new JuteReader(frame);
        Assert.True(ReplyHeader.TryRead(ref reader, out var header), "reply header must decode");
        return (header, reader.RemainingSpan.ToArray());
    }

    /// <summary>All bytes until the server closes (four-letter words answer in text, then close).</summary>
    public string ReceiveTextToEnd()
    {
        var text = new List<byte>();
        var buffer = new byte[4096];
        int read;
        while ((read = _socket.Receive(buffer)) > 0)
        {
            text.AddRange(buffer.AsSpan(0, read));
        }

        return System.Text.Encoding.UTF8.GetString(text.ToArray());
    }

    /// <summary>True when the server has closed the connection (a read returns end of stream).</summary>
    public bool IsClosedByServer()
    {
        try
        {
            var buffer = new byte[1];
            return _socket.Receive(buffer) == 0;
        }
        catch (SocketException e) when (e.SocketErrorCode != SocketError.TimedOut)
        {
            return true;
        }
    }

    public void Dispose() => _socket.Dispose();

    /// <summary>A frame: the body's length (4 bytes, big-endian), then the body.</summary>
    public static byte[] Frame(byte[] body)
    {
        var frame = new byte[body.Length + 4];
        BinaryPrimitives.WriteInt32BigEndian(frame, body.Length);
        body.CopyTo(frame, 4);
        return frame;
    }

    private byte[]? ReceiveExactly(int count)
    {
        var buffer = new byte[count];
        var got = 0;
        while (got < count)
        {
            var read = _socket.Receive(buffer, got, count - got, SocketFlags.None);
            if (read == 0)
            {
                return got == 0 ? null : throw new InvalidOperationException($"connection closed after {got} of {count} bytes");
            }

            got += read;
        }

        return buffer;
    }
}
