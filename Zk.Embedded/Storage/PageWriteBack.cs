namespace Zk.Embedded.Storage;

/// <summary>
/// A checkpoint's page writes to the data file, held until a piece's worth of distinct pages has come, each page
/// kept only in its newest version, then written in file order.
/// </summary>
/// <remarks>
/// <para>LiteDB's checkpoint copies every page of its WAL to the data file in log order, with no regard for pages it
/// already copied: a log of one-txn commits rewrites the same index page and the same data page a few thousand times
/// per checkpoint (each commit writes its data page, the index page with its node and the page of the index's tail
/// node). Synced every 512 KiB as written, one 32 MB checkpoint of such a log was 64 fsyncs of a few pages each, and
/// every WAL sync that met one waited: the 1 × 1 write's p99 (docs/performance-history). Holding the pieces here
/// makes it 4–5 syncs; a checkpoint of large batches, whose pages are all distinct, is synced as before.</para>
/// <para>Safe because a checkpoint's data-file writes mean nothing until its last sync: the WAL keeps every page until
/// then, and LiteDB's copy in log order leaves each position holding its newest version, as this does.</para>
/// <para>Not thread-safe: the file that owns it serializes every use under its own lock.</para>
/// </remarks>
internal sealed class PageWriteBack
{
    private readonly int _pageSize;
    private byte[] _pages;
    private long[] _offsets;
    private readonly Dictionary<long, int> _slotOf;

    public PageWriteBack(int pageSize, int capacity)
    {
        _pageSize = pageSize;
        _pages = new byte[pageSize * capacity];
        _offsets = new long[capacity];
        _slotOf = new Dictionary<long, int>(capacity);
    }

    /// <summary>Lets the buffers go; the file is closed (see <see cref="WriteGather.Release"/>).</summary>
    public void Release()
    {
        _slotOf.Clear();
        (_pages, _offsets) = ([], []);
    }

    /// <summary>Distinct pages waiting.</summary>
    public int Count => _slotOf.Count;

    public bool IsFull => _slotOf.Count == _offsets.Length;

    /// <summary>True when <paramref name="data"/> is one whole page at a page boundary (what LiteDB writes).</summary>
    public bool IsPage(long offset, ReadOnlySpan<byte> data) => data.Length == _pageSize && offset % _pageSize == 0;

    /// <summary>Keeps the page for <paramref name="offset"/>; false when it is a new page and there is no room.</summary>
    public bool TryWrite(long offset, ReadOnlySpan<byte> page)
    {
        if (!_slotOf.TryGetValue(offset, out var slot))
        {
            if (IsFull)
            {
                return false;
            }

            slot = _slotOf.Count;
            _slotOf.Add(offset, slot);
            _offsets[slot] = offset;
        }

        page.CopyTo(_pages.AsSpan(slot * _pageSize, _pageSize));
        return true;
    }

    /// <summary>Hands the waiting pages to <paramref name="gather"/> in file order (so neighbours become one write) and empties.</summary>
    public void Drain(WriteGather gather, Microsoft.Win32.SafeHandles.SafeFileHandle file)
    {
        var count = _slotOf.Count;
        if (count == 0)
        {
            return;
        }

        Span<int> order = stackalloc int[count];
        for (var i = 0; i < count; i++)
        {
            order[i] = i;
        }

        var offsets = _offsets;
        order.Sort((a, b) => offsets[a].CompareTo(offsets[b]));
        foreach (var slot in order)
        {
            gather.Write(file, _offsets[slot], _pages.AsSpan(slot * _pageSize, _pageSize));
        }

        _slotOf.Clear();
    }
}
