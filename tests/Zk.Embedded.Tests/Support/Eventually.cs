namespace Zk.Embedded.Tests.Support;

/// <summary>Waits for a condition on state that no event announces, with a deadline and a message.</summary>
internal static class Eventually
{
    public static async Task TrueAsync(Func<bool> condition, string expectation, TimeSpan? deadline = null)
    {
        var limit = deadline ?? TimeSpan.FromSeconds(10);
        var started = DateTime.UtcNow;
        while (!condition())
        {
            if (DateTime.UtcNow - started > limit)
            {
                Assert.Fail($"expected {expectation} within {limit}, but it did not happen");
            }

            // Yield to the peer's pipeline thread; this is a condition poll, not a timed wait.
            await Task.Yield();
            Thread.Yield();
        }
    }
}
