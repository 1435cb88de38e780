using System.Net;
using System.Security.Cryptography;
using System.Text;
using Zk.Embedded.Api;
using Zk.Embedded.Tree;

namespace Zk.Embedded.Processing;

/// <summary>ZooKeeper's ACL rules: permission checks, the auth/digest/ip/world/super schemes, and ACL fix-up on create.</summary>
internal static class AccessControl
{
    /// <summary>True when one of <paramref name="ids"/> holds <paramref name="perm"/> in <paramref name="acl"/> (<c>ZooKeeperServer.checkACL</c>).</summary>
    public static bool IsAllowed(AclList acl, Perms perm, IReadOnlyList<Id> ids)
    {
        // Indexed loops: foreach over an IReadOnlyList allocates an enumerator, and this runs on every read.
        for (var i = 0; i < ids.Count; i++)
        {
            if (ids[i].Scheme == "super")
            {
                return true;
            }
        }

        foreach (var entry in acl.AsSpan())
        {
            if ((entry.Perms & perm) == 0)
            {
                continue;
            }

            var scheme = entry.Id.Scheme;
            if (scheme == "world" && entry.Id.Identity == "anyone")
            {
                return true;
            }

            for (var i = 0; i < ids.Count; i++)
            {
                var id = ids[i];
                if (id.Scheme != scheme)
                {
                    continue;
                }

                if (scheme == "ip" ? IpMatches(entry.Id.Identity, id.Identity) : entry.Id.Identity == id.Identity)
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>
    /// The ACL to store for a create or setACL (<c>PrepRequestProcessor.fixupACL</c>): duplicates removed,
    /// <c>auth</c> entries replaced by the session's authenticated ids, every entry validated. Fails with InvalidACL
    /// for an entry no auth provider accepts, and with MarshallingError for a null id where ZooKeeper's provider
    /// reads it: there fixupACL throws a NullPointerException, which pRequest's catch-all answers with
    /// MarshallingError. Either way nothing with a null string reaches a txn, which could not be decoded back.
    /// </summary>
    public static ZkErrorCode Fixup(IReadOnlyList<Acl>? acl, IReadOnlyList<Id> sessionIds, out Acl[]? fixedAcl)
    {
        fixedAcl = null;
        if (acl is null || acl.Count == 0)
        {
            return ZkErrorCode.InvalidAcl;
        }

        var result = new List<Acl>(acl.Count);
        foreach (var entry in acl)
        {
            var error = entry?.Id?.Scheme is null ? ZkErrorCode.InvalidAcl
                : entry.Id.Scheme == "auth" ? ExpandAuth(entry.Perms, sessionIds, result)
                : Validate(entry.Id);
            if (error != ZkErrorCode.Ok)
            {
                return error;
            }

            if (entry!.Id.Scheme != "auth")
            {
                AddDistinct(result, entry);
            }
        }

        fixedAcl = [.. result];
        return ZkErrorCode.Ok;
    }

    /// <summary>
    /// An <c>auth</c> entry stands for every identity a provider vouches for (<c>isAuthenticated</c>): digest ids.
    /// Not the ip id every connection has (IPAuthenticationProvider), and not super, which has no provider in ZooKeeper.
    /// </summary>
    private static ZkErrorCode ExpandAuth(Perms perms, IReadOnlyList<Id> sessionIds, List<Acl> result)
    {
        var any = false;
        foreach (var id in sessionIds)
        {
            if (id.Scheme == "digest")
            {
                AddDistinct(result, new Acl(perms, id));
                any = true;
            }
        }

        return any ? ZkErrorCode.Ok : ZkErrorCode.InvalidAcl;
    }

    /// <summary>The id a digest auth of "user:password" yields: digest user:base64(sha1(user:password)).</summary>
    public static Id DigestId(string userColonPassword)
    {
        var colon = userColonPassword.IndexOf(':');
        var user = colon < 0 ? userColonPassword : userColonPassword[..colon];
        var hash = SHA1.HashData(Encoding.UTF8.GetBytes(userColonPassword));
        return new Id("digest", user + ":" + Convert.ToBase64String(hash));
    }

    private static void AddDistinct(List<Acl> list, Acl entry)
    {
        if (!list.Contains(entry))
        {
            list.Add(entry);
        }
    }

    /// <summary>
    /// An entry of a scheme with a provider (<c>ProviderRegistry</c>: ip and digest; world:anyone is taken as it is).
    /// Any other scheme, super included, has no provider: InvalidACL, before its id is looked at.
    /// </summary>
    private static ZkErrorCode Validate(Id id)
    {
        if (id.Scheme is not ("world" or "digest" or "ip"))
        {
            return ZkErrorCode.InvalidAcl;
        }

        if (id.Identity is null)
        {
            return ZkErrorCode.MarshallingError;
        }

        var valid = id.Scheme switch
        {
            "world" => id.Identity == "anyone",
            // DigestAuthenticationProvider.isValid: user:hash, exactly one colon.
            "digest" => id.Identity.Split(':').Length == 2,
            _ => TryParseCidr(id.Identity, out _, out _),
        };
        return valid ? ZkErrorCode.Ok : ZkErrorCode.InvalidAcl;
    }

    /// <summary>ip scheme: an address or CIDR range in the ACL matches the client address (IPAuthenticationProvider.matches).</summary>
    internal static bool IpMatches(string aclIdentity, string clientAddress)
    {
        if (!TryParseCidr(aclIdentity, out var network, out var bits) || !IPAddress.TryParse(clientAddress, out var client))
        {
            return false;
        }

        var a = network.GetAddressBytes();
        var b = client.GetAddressBytes();
        if (a.Length != b.Length)
        {
            return false;
        }

        for (var i = 0; i < a.Length && bits > 0; i++, bits -= 8)
        {
            var mask = bits >= 8 ? 0xFF : (0xFF << (8 - bits)) & 0xFF;
            if ((a[i] & mask) != (b[i] & mask))
            {
                return false;
            }
        }

        return true;
    }

    private static bool TryParseCidr(string text, out IPAddress address, out int bits)
    {
        var slash = text.IndexOf('/');
        var host = slash < 0 ? text : text[..slash];
        if (!IPAddress.TryParse(host, out address!))
        {
            bits = 0;
            return false;
        }

        var width = address.GetAddressBytes().Length * 8;
        if (slash < 0)
        {
            bits = width;
            return true;
        }

        return int.TryParse(text.AsSpan(slash + 1), out bits) && bits >= 0 && bits <= width;
    }
}
