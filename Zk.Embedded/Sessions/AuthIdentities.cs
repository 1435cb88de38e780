using Zk.Embedded.Api;

namespace Zk.Embedded.Sessions;

/// <summary>The identities an attachment holds grow by addAuth only (ZooKeeper's <c>ServerCnxn.addAuthInfo</c>).</summary>
internal static class AuthIdentities
{
    /// <summary><paramref name="current"/> with <paramref name="added"/>, without duplicates; copy-on-write so readers need no lock.</summary>
    public static IReadOnlyList<Id> With(IReadOnlyList<Id> current, IReadOnlyList<Id> added)
    {
        var result = current;
        foreach (var id in added)
        {
            if (!result.Contains(id))
            {
                result = [.. result, id];
            }
        }

        return result;
    }
}
