using Zk.Embedded.Api;

namespace Zk.Embedded.Consensus;

/// <summary>
/// The peer's log as the core knows it: every txn after <see cref="Base"/> that it has asked the driver to log
/// (durable or not), oldest first. Like ZooKeeper's <c>ZKDatabase.committedLog</c> it answers DIFF and TRUNC from
/// memory; unlike it, it also holds the uncommitted tail. Committed txns beyond the window size are dropped from the
/// front; a learner behind <see cref="Base"/> gets SNAP.
/// </summary>
internal sealed class LogWindow
{
    private readonly List<ConsensusTxn> _txns = [];

    public LogWindow(Zxid baseZxid, IReadOnlyList<ConsensusTxn> txns)
    {
        Base = baseZxid;
        foreach (var txn in txns)
            Append(txn);
    }

    /// <summary>The zxid just before the first txn held (a snapshot's, or the last one evicted).</summary>
    public Zxid Base { get; private set; }

    /// <summary>The last logged zxid (ZooKeeper's lastLoggedZxid), or <see cref="Base"/> when empty.</summary>
    public Zxid Last => _txns.Count > 0 ? _txns[^1].Zxid : Base;

    public int Count => _txns.Count;

    public ConsensusTxn this[int index] => _txns[index];

    public void Append(ConsensusTxn txn)
    {
        if (!IsNext(Last, txn.Zxid))
            throw new InvalidOperationException($"log gap: {txn.Zxid} does not follow {Last}");
        _txns.Add(txn);
    }

    /// <summary>
    /// The index of the first txn with zxid ≥ <paramref name="zxid"/> (Count when none). Binary search: the window
    /// is sorted and may hold hundreds of txns.
    /// </summary>
    public int LowerBound(Zxid zxid)
    {
        int lo = 0, hi = _txns.Count;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (_txns[mid].Zxid < zxid)
                lo = mid + 1;
            else
                hi = mid;
        }
        return lo;
    }

    /// <summary>True when <paramref name="zxid"/> is <see cref="Base"/> or a txn held.</summary>
    public bool Contains(Zxid zxid)
    {
        if (zxid == Base)
            return true;
        var i = LowerBound(zxid);
        return i < _txns.Count && _txns[i].Zxid == zxid;
    }

    public void TruncateAfter(Zxid zxid)
    {
        if (!Contains(zxid))
            throw new InvalidOperationException($"truncation point {zxid} is not in the log ({Base}, {Last}]");
        var keep = zxid == Base ? 0 : LowerBound(zxid) + 1;
        _txns.RemoveRange(keep, _txns.Count - keep);
    }

    /// <summary>Forget everything: the state is now a snapshot at <paramref name="zxid"/>.</summary>
    public void Reset(Zxid zxid)
    {
        _txns.Clear();
        Base = zxid;
    }

    /// <summary>Drops the oldest txns beyond <paramref name="keep"/>, but never one after <paramref name="appliedThrough"/>.</summary>
    public void Evict(int keep, Zxid appliedThrough)
    {
        var excess = _txns.Count - keep;
        if (excess <= 0)
            return;
        var n = Math.Min(excess, LowerBound(new Zxid(appliedThrough.Value + 1)));
        if (n <= 0)
            return;
        Base = _txns[n - 1].Zxid;
        _txns.RemoveRange(0, n);
    }

    /// <summary>
    /// True when <paramref name="next"/> may follow <paramref name="last"/>: the next counter of the same epoch, or
    /// counter 1 of a later epoch (every leader starts at (e,0) and proposes from (e,1), <c>Leader.lead</c>).
    /// </summary>
    public static bool IsNext(Zxid last, Zxid next) =>
        next.Epoch == last.Epoch ? next.Counter == last.Counter + 1 : next.Epoch > last.Epoch && next.Counter == 1;
}
