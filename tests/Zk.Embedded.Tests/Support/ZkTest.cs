using Zk.Embedded.Api;

namespace Zk.Embedded.Tests.Support;

/// <summary>Short forms for the calls tests make all the time, and assertions on ZooKeeper error codes.</summary>
internal static class ZkTest
{
    public static ValueTask<string> CreateAsync(this IZooKeeper zk, string path, CreateMode mode = CreateMode.Persistent, byte[]? data = null) =>
        zk.CreateAsync(path, data, Acl.OpenUnsafe, mode);

    public static async Task<Stat> StatAsync(this IZooKeeper zk, string path) =>
        await zk.ExistsAsync(path) ?? throw new Xunit.Sdk.XunitException($"expected {path} to exist");

    /// <summary>Asserts the call fails with <paramref name="code"/> and returns the exception.</summary>
    public static async Task<ZkException> ThrowsAsync(ZkErrorCode code, Func<Task> call)
    {
        try
        {
            await call();
        }
        catch (ZkException e)
        {
            Assert.True(e.Code == code, $"expected {code}, got {e.Code}: {e.Message}");
            return e;
        }
        catch (Exception e)
        {
            Assert.Fail($"expected ZkException {code}, got {e.GetType().Name}: {e.Message}");
        }

        Assert.Fail($"expected ZkException {code}, but the call succeeded");
        return null!;
    }

    /// <summary>Asserts the peer still serves this session: a write then a read go through.</summary>
    public static async Task AssertServesAsync(IZooKeeper zk)
    {
        var path = await zk.CreateAsync("/still-serving-", null, Acl.OpenUnsafe, CreateMode.EphemeralSequential);
        Assert.NotNull(await zk.ExistsAsync(path));
        await zk.DeleteAsync(path);
    }
}
