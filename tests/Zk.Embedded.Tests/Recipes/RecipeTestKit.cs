using System.Globalization;
using Xunit.Abstractions;
using Zk.Embedded.Api;
using Zk.Embedded.Recipes;

namespace Zk.Embedded.Tests.Recipes;

/// <summary>What the recipe tests share: seeds, yields under contention, waiting for a folder's children.</summary>
internal static class RecipeTestKit
{
    /// <summary>The seed of a contention test: ZK_SEED when set, else a fresh one; printed so a failure can be replayed.</summary>
    public static int Next(ITestOutputHelper output)
    {
        var seed = Environment.GetEnvironmentVariable("ZK_SEED") is { } s ? int.Parse(s, CultureInfo.InvariantCulture) : Random.Shared.Next();
        output.WriteLine($"seed={seed} (set ZK_SEED to replay)");
        return seed;
    }

    /// <summary>Lets other contenders run a random number of times while a holder is inside.</summary>
    public static async Task YieldAsync(Random random, int most)
    {
        for (var yields = random.Next(most); yields > 0; yields--)
        {
            await Task.Yield();
        }
    }

    /// <summary>Takes the lock at <paramref name="path"/> <paramref name="rounds"/> times, entering the register while holding it.</summary>
    public static async Task HoldInTurnsAsync(IZooKeeper zk, string path, FencedRegister register, Random random, int rounds)
    {
        for (var round = 0; round < rounds; round++)
        {
            await using var lease = await zk.AcquireLockAsync(path);
            register.Enter(lease.FencingToken);
            await YieldAsync(random, 4);
            register.Leave();
        }
    }

    /// <summary>Waits, with a deadline, until <paramref name="path"/> has <paramref name="count"/> children.</summary>
    public static async Task WaitForChildrenAsync(IZooKeeper zk, string path, int count)
    {
        var limit = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        var seen = -1;
        while (DateTime.UtcNow < limit)
        {
            try
            {
                seen = (await zk.GetChildrenAsync(path)).Count;
            }
            catch (ZkException e) when (e.Code == ZkErrorCode.NoNode)
            {
                seen = -1;
            }

            if (seen == count)
            {
                return;
            }

            await Task.Yield();
        }

        Assert.Fail($"expected {count} children under {path} within 10 s, last saw {seen}");
    }
}
