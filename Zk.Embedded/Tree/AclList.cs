using Zk.Embedded.Api;

namespace Zk.Embedded.Tree;

/// <summary>
/// An ACL as stored on znodes: immutable and interned by <see cref="AclCache"/>, so the many nodes that share an
/// ACL share one list (ZooKeeper keeps a reference-counted ACL cache for the same reason).
/// </summary>
internal sealed class AclList : IReadOnlyList<Acl>, IEquatable<AclList>
{
    private readonly Acl[] _entries;
    private readonly int _hash;

    public AclList(Acl[] entries)
    {
        _entries = entries;
        var hash = new HashCode();
        foreach (var entry in entries)
        {
            hash.Add(entry);
        }

        _hash = hash.ToHashCode();
    }

    public static AclList Open { get; } = new([.. Api.Acl.OpenUnsafe]);

    public static AclList Read { get; } = new([.. Api.Acl.ReadUnsafe]);

    public int Count => _entries.Length;

    public Acl this[int index] => _entries[index];

    public ReadOnlySpan<Acl> AsSpan() => _entries;

    public bool Equals(AclList? other) =>
        other is not null && (ReferenceEquals(this, other) || (_hash == other._hash && _entries.AsSpan().SequenceEqual(other._entries)));

    public override bool Equals(object? obj) => Equals(obj as AclList);

    public override int GetHashCode() => _hash;

    public IEnumerator<Acl> GetEnumerator() => ((IEnumerable<Acl>)_entries).GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => _entries.GetEnumerator();

    public override string ToString() => string.Join(",", _entries.Select(a => $"{a.Id}:{(int)a.Perms}"));
}

/// <summary>
/// Interns ACL lists, weakly: a list stays interned while some znode (or anything else) still holds it, and an
/// entry whose list was collected is swept away, so a workload with ever new ACLs (one per session, say) does not grow
/// the cache without bound. ZooKeeper's reference-counted ACL cache purges for the same reason.
/// </summary>
internal sealed class AclCache
{
    private readonly Dictionary<int, List<WeakReference<AclList>>> _byHash = [];
    private int _entries;
    private int _sweepAt = 1024;

    public AclCache()
    {
        // Held strongly by AclList itself, so they never go.
        Add(AclList.Open);
        Add(AclList.Read);
    }

    /// <summary>Entries in the cache, including ones whose list was collected and not yet swept (tests).</summary>
    internal int Count
    {
        get
        {
            lock (_byHash)
            {
                return _entries;
            }
        }
    }

    public AclList Intern(IReadOnlyList<Acl> acl)
    {
        var candidate = acl as AclList ?? new AclList([.. acl]);
        lock (_byHash)
        {
            if (_byHash.TryGetValue(candidate.GetHashCode(), out var bucket))
            {
                foreach (var entry in bucket)
                {
                    if (entry.TryGetTarget(out var known) && known.Equals(candidate))
                    {
                        return known;
                    }
                }
            }

            Add(candidate);
            if (_entries >= _sweepAt)
            {
                Sweep();
            }

            return candidate;
        }
    }

    /// <summary>Removes entries whose list was collected; the next sweep comes when the live ones have doubled.</summary>
    internal void Sweep()
    {
        lock (_byHash)
        {
            var live = 0;
            foreach (var (hash, bucket) in _byHash)
            {
                bucket.RemoveAll(entry => !entry.TryGetTarget(out _));
                if (bucket.Count == 0)
                {
                    _byHash.Remove(hash);
                }

                live += bucket.Count;
            }

            _entries = live;
            _sweepAt = Math.Max(1024, live * 2);
        }
    }

    private void Add(AclList list)
    {
        if (!_byHash.TryGetValue(list.GetHashCode(), out var bucket))
        {
            bucket = new List<WeakReference<AclList>>(1);
            _byHash[list.GetHashCode()] = bucket;
        }

        bucket.Add(new WeakReference<AclList>(list));
        _entries++;
    }
}
