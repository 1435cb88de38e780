using Zk.Embedded.Storage;

namespace Zk.Embedded.Tests.Storage;

/// <summary>The data file's zeros kept ahead of the pages in the background (gathered writes: the crash test), and a checkpoint's pages held and synced in pieces.</summary>
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

    [Fact]
    public void A_checkpoint_that_rewrites_a_few_pages_is_synced_once_with_each_page_as_last_written()
    {
        // A log of one-txn commits: LiteDB's checkpoint copies the same few pages over and over, in log order.
        var events = new List<FileEvent>();
        var path = _dir.File("data");
        using (var file = new DurableFile(path, "data", events.Add))
        {
            for (var round = 0; round < 200; round++)
            {
                foreach (var page in new[] { 7, 2, 5 })
                {
                    file.Position = page * Page;
                    file.Write(PageOf((byte)(round + page)));
                }
            }

            Assert.Empty(events);
            file.Position = 5 * Page;
            var back = new byte[Page];
            Assert.Equal(Page, file.Read(back));
            Assert.All(back, b => Assert.Equal((byte)(199 + 5), b));
            file.Sync();
        }

        Assert.Equal([new FileEvent("data", FileEventKind.Sync)], events);
        var bytes = File.ReadAllBytes(path);
        foreach (var page in new[] { 7, 2, 5 })
        {
            Assert.False(bytes.AsSpan(page * Page, Page).ContainsAnyExcept((byte)(199 + page)), $"page {page} should hold its last write");
        }
    }

    [Fact]
    public void A_checkpoint_of_distinct_pages_is_synced_every_64_pages()
    {
        var events = new List<FileEvent>();
        var path = _dir.File("data");
        using (var file = new DurableFile(path, "data", events.Add))
        {
            for (var page = 0; page < 200; page++)
            {
                file.Write(PageOf((byte)page));
            }

            // 64, 128 and 192 pages reached the disk in synced pieces; the last 8 wait for the checkpoint's own sync.
            Assert.Equal(3, events.Count);
            file.Sync();
        }

        Assert.Equal(4, events.Count(e => e == new FileEvent("data", FileEventKind.Sync)));
        var bytes = File.ReadAllBytes(path);
        for (var page = 0; page < 200; page++)
        {
            Assert.False(bytes.AsSpan(page * Page, Page).ContainsAnyExcept((byte)page), $"page {page} should hold its own bytes");
        }
    }

    private static byte[] PageOf(byte value)
    {
        var page = new byte[Page];
        Array.Fill(page, value);
        return page;
    }
}
