using Zk.Embedded.Api;

namespace Zk.Embedded.Processing;

/// <summary>
/// addAuth, as ZooKeeper's providers without SASL answer it (<c>ZooKeeperServer.processPacket</c>): handled when it
/// arrives, not in the write order, and the ids it proves belong to the connection (<c>ServerCnxn.authInfo</c>).
/// Every request carries the ids its connection had when the request arrived, so an addAuth never changes how a
/// request sent before it is checked.
/// </summary>
internal static class Authentication
{
    /// <summary>
    /// digest yields its digest id (and super when it matches <paramref name="superDigest"/>); ip proves nothing new
    /// (<c>IPAuthenticationProvider</c> vouches only for the socket's address, which the connection already has); any
    /// other scheme is AuthFailed.
    /// </summary>
    public static ZkErrorCode Authenticate(string scheme, byte[] auth, string? superDigest, out IReadOnlyList<Id> proved)
    {
        switch (scheme)
        {
            case "digest":
                var id = AccessControl.DigestId(System.Text.Encoding.UTF8.GetString(auth));
                proved = superDigest is not null && id.Identity == superDigest ? [new Id("super", ""), id] : [id];
                return ZkErrorCode.Ok;
            case "ip":
                proved = [];
                return ZkErrorCode.Ok;
            default:
                proved = [];
                return ZkErrorCode.AuthFailed;
        }
    }
}
