using Zk.Embedded.Storage;

namespace Zk.Embedded.Tests.Storage;

/// <summary>The data file's zeros kept ahead of the pages in the background (gathered writes: the crash test).</summary>
public sealed class DurableFileTests : IDisposable
{
    private const int Page = 8192;
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Zeros_are_written_ahead_of_the_pages_and_later_pages_land_on_them()
    {
        var path = _dir.File("data");
        using (var file = new DurableFile(path, "data", null))
        {
            for (var i = 0; i < 8; i++)
            {
                file.Write(PageOf((byte)(i + 1)));
            }

            await file.ZeroingAhead.WaitAsync(TimeSpan.FromSeconds(30));
            // Kept at least half of "ahead" (1 MiB for a small file) past the highest page.
            Assert.True(file.Length >= (8 * Page) + (512 * 1024), $"expected at least 512 KiB of zeros past 8 pages, file is {file.Length} bytes");

            // A page past the old end lands on the zeros; reading it back goes through the gathered write.
            file.Position = 20 * Page;
            file.Write(PageOf(0x55));
            var back = new byte[Page];
            file.Position = 20 * Page;
            Assert.Equal(Page, file.Read(back));
            Assert.All(back, b => Assert.Equal(0x55, b));
            file.Sync();
        }

        var bytes = File.ReadAllBytes(path);
        for (var i = 0; i < 8; i++)
        {
            Assert.True(bytes.AsSpan(i * Page, Page).IndexOfAnyExcept((byte)(i + 1)) < 0, $"page {i} should hold its own bytes");
        }

        Assert.False(bytes.AsSpan(8 * Page, 12 * Page).ContainsAnyExcept((byte)0), "the pages between should be zeros");
        Assert.False(bytes.AsSpan(20 * Page, Page).ContainsAnyExcept((byte)0x55), "page 20 should be what was written over the zeros");
        Assert.False(bytes.AsSpan(21 * Page).ContainsAnyExcept((byte)0), "everything after should be zeros");
    }

    private static byte[] PageOf(byte value)
    {
        var page = new byte[Page];
        Array.Fill(page, value);
        return page;
    }
}
