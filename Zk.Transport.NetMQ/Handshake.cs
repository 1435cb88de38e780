using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Zk.Transport.NetMQ;

/// <summary>
/// The frames members exchange, and the challenge-response that opens each connection. Every frame starts with a
/// kind byte. A connection runs one way: the connecting peer (A, a DEALER) sends HELLO and then DATA; the listening
/// peer (B, the ROUTER) only answers CHALLENGE.
/// <code>
/// A → B  HELLO     [1][version][A:int32][B:int32][nonceA:16]
/// B → A  CHALLENGE [2][nonceB:16][HMAC(secret, 'S' | version | A | B | nonceA | nonceB)]
/// A → B  AUTH      [3][HMAC(secret, 'C' | version | A | B | nonceA | nonceB)]
/// A → B  DATA      [4][message]
/// A → B  PING      [5]            (every HeartbeatInterval once proven)
/// B → A  PONG      [6]            (to a proven connection's PING)
/// </code>
/// Both nonces are fresh per connection, so a recorded handshake does not replay; the two labels keep either side's
/// proof from being reflected as the other's; the ids and version in the MAC bind it to this pair. B delivers DATA
/// only from a connection whose AUTH verified; A sends only after B's proof verified (so it never feeds an impostor
/// listening on B's address).
/// </summary>
internal static class Handshake
{
    public const byte Hello = 1, Challenge = 2, Auth = 3, Data = 4, Ping = 5, Pong = 6;

    /// <summary>The ROUTER's disconnect message (NetMQ's ZMQ_DISCONNECT_MSG): a connection ended; no peer can send it, it is not a frame kind.</summary>
    public const byte Gone = 0xFF;

    public const byte Version = 1;
    public const int NonceBytes = 16, ProofBytes = 32;
    public const int HelloBytes = 2 + 4 + 4 + NonceBytes;
    public const int ChallengeBytes = 1 + NonceBytes + ProofBytes;
    public const int AuthBytes = 1 + ProofBytes;

    /// <summary>The largest control frame: what a DEALER accepts at all (NetMQ drops the connection beyond it).</summary>
    public const int MaxControlBytes = ChallengeBytes;

    public static byte[] NewNonce() => RandomNumberGenerator.GetBytes(NonceBytes);

    public static byte[] WriteHello(int from, int to, ReadOnlySpan<byte> nonceA)
    {
        var frame = new byte[HelloBytes];
        frame[0] = Hello;
        frame[1] = Version;
        BinaryPrimitives.WriteInt32LittleEndian(frame.AsSpan(2), from);
        BinaryPrimitives.WriteInt32LittleEndian(frame.AsSpan(6), to);
        nonceA.CopyTo(frame.AsSpan(10));
        return frame;
    }

    /// <summary>Reads a HELLO; false when it is not one of this version and length.</summary>
    public static bool TryReadHello(ReadOnlySpan<byte> frame, out int from, out int to, out byte[] nonceA)
    {
        from = to = 0;
        nonceA = [];
        if (frame.Length != HelloBytes || frame[0] != Hello || frame[1] != Version)
            return false;
        from = BinaryPrimitives.ReadInt32LittleEndian(frame[2..]);
        to = BinaryPrimitives.ReadInt32LittleEndian(frame[6..]);
        nonceA = frame.Slice(10, NonceBytes).ToArray();
        return true;
    }

    public static byte[] WriteChallenge(byte[]? secret, int from, int to, byte[] nonceA, byte[] nonceB)
    {
        var frame = new byte[ChallengeBytes];
        frame[0] = Challenge;
        nonceB.CopyTo(frame, 1);
        Prove(secret, (byte)'S', from, to, nonceA, nonceB, frame.AsSpan(1 + NonceBytes));
        return frame;
    }

    /// <summary>Checks a CHALLENGE from the peer A connected to; on success returns the AUTH frame to answer with.</summary>
    public static byte[]? Answer(ReadOnlySpan<byte> challenge, byte[]? secret, int from, int to, byte[] nonceA)
    {
        if (challenge.Length != ChallengeBytes || challenge[0] != Challenge)
            return null;
        var nonceB = challenge.Slice(1, NonceBytes).ToArray();
        Span<byte> expected = stackalloc byte[ProofBytes];
        Prove(secret, (byte)'S', from, to, nonceA, nonceB, expected);
        if (secret is not null && !CryptographicOperations.FixedTimeEquals(expected, challenge[(1 + NonceBytes)..]))
            return null;
        var auth = new byte[AuthBytes];
        auth[0] = Auth;
        Prove(secret, (byte)'C', from, to, nonceA, nonceB, auth.AsSpan(1));
        return auth;
    }

    /// <summary>Does an AUTH frame prove the secret for this pair and these nonces?</summary>
    public static bool Verify(ReadOnlySpan<byte> auth, byte[]? secret, int from, int to, byte[] nonceA, byte[] nonceB)
    {
        if (auth.Length != AuthBytes || auth[0] != Auth)
            return false;
        if (secret is null)
            return true;
        Span<byte> expected = stackalloc byte[ProofBytes];
        Prove(secret, (byte)'C', from, to, nonceA, nonceB, expected);
        return CryptographicOperations.FixedTimeEquals(expected, auth[1..]);
    }

    private static void Prove(byte[]? secret, byte label, int from, int to, byte[] nonceA, byte[] nonceB, Span<byte> proof)
    {
        if (secret is null)
        {
            proof.Clear();   // authentication off: the frame keeps its shape, nobody checks it
            return;
        }
        Span<byte> input = stackalloc byte[2 + 4 + 4 + 2 * NonceBytes];
        input[0] = label;
        input[1] = Version;
        BinaryPrimitives.WriteInt32LittleEndian(input[2..], from);
        BinaryPrimitives.WriteInt32LittleEndian(input[6..], to);
        nonceA.CopyTo(input[10..]);
        nonceB.CopyTo(input[(10 + NonceBytes)..]);
        HMACSHA256.HashData(secret, input, proof);
    }
}
