using System.Runtime.CompilerServices;
using Zk.Embedded.Api;
using Zk.Embedded.Tree;

namespace Zk.Embedded.Tests.Model;

public sealed class AclCacheTests
{
    private static Acl[] DigestAcl(string user) => [new Acl(Perms.All, new Id("digest", user + ":hash"))];

    [Fact]
    public void Equal_lists_intern_to_one_instance()
    {
        var cache = new AclCache();
        var first = cache.Intern(DigestAcl("alice"));
        Assert.Same(first, cache.Intern(DigestAcl("alice")));
        Assert.NotSame(first, cache.Intern(DigestAcl("bob")));
        Assert.Same(AclList.Open, cache.Intern([.. Acl.OpenUnsafe]));
    }

    [Fact]
    public void Lists_nobody_holds_any_more_are_swept_and_held_ones_stay_interned()
    {
        var cache = new AclCache();
        var held = cache.Intern(DigestAcl("held"));
        InternAndDrop(cache, 5000);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        cache.Sweep();

        // Left: the two built-in lists and the held one.
        Assert.True(cache.Count <= 3, $"expected the 5,000 dropped lists to be swept, {cache.Count} entries left");
        Assert.Same(held, cache.Intern(DigestAcl("held")));
        GC.KeepAlive(held);
    }

    /// <summary>Not inlined, so nothing of these lists outlives this frame.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void InternAndDrop(AclCache cache, int count)
    {
        for (var i = 0; i < count; i++)
        {
            cache.Intern(DigestAcl("user" + i));
        }
    }
}
