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

/// <summary>Interns ACL lists. Lists are never purged: a workload with unbounded distinct ACLs grows it.</summary>
internal sealed class AclCache
{
    private readonly Dictionary<AclList, AclList> _lists = new();

    public AclCache()
    {
        _lists[AclList.Open] = AclList.Open;
        _lists[AclList.Read] = AclList.Read;
    }

    public AclList Intern(IReadOnlyList<Acl> acl)
    {
        var candidate = acl as AclList ?? new AclList([.. acl]);
        lock (_lists)
        {
            if (_lists.TryGetValue(candidate, out var known))
            {
                return known;
            }

            _lists[candidate] = candidate;
            return candidate;
        }
    }
}
