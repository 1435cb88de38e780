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
/// makes it 3–4 syncs; a checkpoint of large batches, whose pages are all distinct, is synced as before.</para>
/// <para>Safe because a checkpoint's data-file writes mean nothing until its last sync: the WAL keeps every page until
/// then, and LiteDB's copy in log order leaves each position holding its newest version, as this does.</para>
/// <para>Not thread-safe: the file that owns it serializes every use under its own lock.</para>
/// </remarks>
internal sealed class PageWriteBack
{
    private readonly int _pageSize;
    private byte[] _pages;
    private long[] _offsets;
    private long[] _sortedOffsets;
    private int[] _sortedSlots;
    private readonly Dictionary<long, int> _slotOf;

    public PageWriteBack(int pageSize, int capacity)
    {
        _pageSize = pageSize;
        _pages = new byte[pageSize * capacity];
        _offsets = new long[capacity];
        (_sortedOffsets, _sortedSlots) = (new long[capacity], new int[capacity]);
        _slotOf = new Dictionary<long, int>(capacity);
    }

    /// <summary>Lets the buffers go; the file is closed (see <see cref="WriteGather.Release"/>).</summary>
    public void Release()
    {
        _slotOf.Clear();
        (_pages, _offsets, _sortedOffsets, _sortedSlots) = ([], [], [], []);
    }

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

        _offsets.AsSpan(0, count).CopyTo(_sortedOffsets);
        for (var i = 0; i < count; i++)
        {
            _sortedSlots[i] = i;
        }

        Array.Sort(_sortedOffsets, _sortedSlots, 0, count);
        for (var i = 0; i < count; i++)
        {
            gather.Write(file, _sortedOffsets[i], _pages.AsSpan(_sortedSlots[i] * _pageSize, _pageSize));
        }

        _slotOf.Clear();
    }
}
