using System.Buffers;
using System.Numerics;

namespace Zk.Embedded.Tree;

/// <summary>
/// A persistent (immutable) map from child name to <see cref="ZNode"/>: a hash array mapped trie.
/// Every change returns a new map sharing all untouched branches, so a reader holding one version can
/// enumerate it while the single writer builds the next. Costs about 9 bytes per child plus the child itself.
/// </summary>
internal sealed class ChildMap
{
    private const int BitsPerLevel = 5;
    private const int LevelMask = (1 << BitsPerLevel) - 1;

    public static readonly ChildMap Empty = new(BitmapNode.Empty, 0);

    private readonly BitmapNode _root;
    private IReadOnlyList<string>? _names;

    private ChildMap(BitmapNode root, int count)
    {
        _root = root;
        Count = count;
    }

    public int Count { get; }

    public ZNode? Find(ReadOnlySpan<char> name)
    {
        if (Count == 0)
        {
            return null;
        }

        var hash = Hash(name);
        object? slot = _root;
        var shift = 0;
        while (true)
        {
            switch (slot)
            {
                case BitmapNode node:
                    var bit = 1u << ((hash >>> shift) & LevelMask);
                    if ((node.Bitmap & bit) == 0)
                    {
                        return null;
                    }

                    slot = node.Slots[BitOperations.PopCount(node.Bitmap & (bit - 1))];
                    shift += BitsPerLevel;
                    break;
                case ZNode leaf:
                    return name.SequenceEqual(leaf.Name) ? leaf : null;
                case CollisionNode collision:
                    foreach (var item in collision.Items)
                    {
                        if (name.SequenceEqual(item.Name))
                        {
                            return item;
                        }
                    }

                    return null;
                default:
                    return null;
            }
        }
    }

    /// <summary>
    /// The map of <paramref name="children"/>, built in one pass: each trie node is allocated once at its final size,
    /// where adding them one by one with <see cref="Set"/> copies the path to every new child (a thousand-child parent
    /// costs ~700 bytes of garbage per child, most of what loading a snapshot allocated besides the nodes). Reorders
    /// <paramref name="children"/>.
    /// </summary>
    /// <exception cref="InvalidDataException">Two children have the same name.</exception>
    public static ChildMap FromChildren(Span<ZNode> children)
    {
        if (children.IsEmpty)
        {
            return Empty;
        }

        var rented = ArrayPool<uint>.Shared.Rent(children.Length);
        try
        {
            var keys = rented.AsSpan(0, children.Length);
            for (var i = 0; i < children.Length; i++)
            {
                keys[i] = TrieOrder(Hash(children[i].Name));
            }

            // Sorted by their hashes' 5-bit chunks, first level's chunk first, the children under any trie node are
            // one run, and its slots are that run's sub-runs in bit order.
            keys.Sort(children);
            return new ChildMap(BuildNode(children, keys, 0), children.Length);
        }
        finally
        {
            ArrayPool<uint>.Shared.Return(rented);
        }
    }

    /// <summary>Adds the child, or replaces the child with the same name.</summary>
    public ChildMap Set(ZNode child)
    {
        var added = false;
        var root = (BitmapNode)SetIn(_root, child, Hash(child.Name), 0, ref added);
        return new ChildMap(root, added ? Count + 1 : Count);
    }

    public ChildMap Remove(ReadOnlySpan<char> name)
    {
        var removed = false;
        var root = RemoveFrom(_root, name, Hash(name), 0, ref removed);
        if (!removed)
        {
            return this;
        }

        return Count == 1 ? Empty : new ChildMap((BitmapNode?)root ?? BitmapNode.Empty, Count - 1);
    }

    /// <summary>Calls <paramref name="visit"/> for every child, in no particular order.</summary>
    public void ForEach<TState>(ref TState state, ChildVisitor<TState> visit)
    {
        if (Count != 0)
        {
            Walk(_root, ref state, visit);
        }
    }

    /// <summary>
    /// The children's names, built once per map version and shared: the map is immutable, so repeated getChildren
    /// of an unchanged parent (a wide one costs ~70 µs to list) is free. Read-only; racing builders build equal lists.
    /// </summary>
    public IReadOnlyList<string> Names()
    {
        if (_names is { } cached)
        {
            return cached;
        }

        var names = new string[Count];
        var state = (names, 0);
        ForEach(ref state, static (ref (string[] Array, int Next) s, ZNode child) => s.Array[s.Next++] = child.Name);
        var list = Array.AsReadOnly(names);
        _names = list;
        return list;
    }

    private static void Walk<TState>(object slot, ref TState state, ChildVisitor<TState> visit)
    {
        switch (slot)
        {
            case ZNode leaf:
                visit(ref state, leaf);
                break;
            case BitmapNode node:
                foreach (var child in node.Slots)
                {
                    Walk(child, ref state, visit);
                }

                break;
            case CollisionNode collision:
                foreach (var item in collision.Items)
                {
                    visit(ref state, item);
                }

                break;
        }
    }

    private static int Hash(ReadOnlySpan<char> name) => string.GetHashCode(name);

    /// <summary>The hash with its trie chunks reversed (level 0's 5 bits highest, the last level's 2 bits lowest), so
    /// ordering by it orders by level 0's slot, then level 1's, and so on. Equal only for equal hashes.</summary>
    private static uint TrieOrder(int hash)
    {
        var h = (uint)hash;
        var key = 0u;
        for (var shift = 0; shift < 30; shift += BitsPerLevel)
        {
            key = (key << BitsPerLevel) | ((h >> shift) & LevelMask);
        }

        return (key << 2) | (h >> 30);
    }

    /// <summary>The trie node at <paramref name="shift"/> for children sorted by <see cref="TrieOrder"/> that agree on the
    /// hash bits below <paramref name="shift"/>: a slot per distinct chunk, in bit order, as <see cref="Set"/> makes.</summary>
    private static BitmapNode BuildNode(Span<ZNode> children, Span<uint> keys, int shift)
    {
        var bitmap = 0u;
        for (var i = 0; i < keys.Length; i++)
        {
            bitmap |= 1u << Chunk(keys[i], shift);
        }

        var slots = new object[BitOperations.PopCount(bitmap)];
        var start = 0;
        for (var slot = 0; slot < slots.Length; slot++)
        {
            var chunk = Chunk(keys[start], shift);
            var end = start + 1;
            while (end < keys.Length && Chunk(keys[end], shift) == chunk)
            {
                end++;
            }

            slots[slot] = BuildSlot(children[start..end], keys[start..end], shift + BitsPerLevel);
            start = end;
        }

        return new BitmapNode(bitmap, slots);
    }

    private static object BuildSlot(Span<ZNode> children, Span<uint> keys, int shift)
    {
        if (children.Length == 1)
        {
            return children[0];
        }

        if (keys[0] == keys[^1])
        {
            // Equal hashes (sorted, so the first and last agree only if all do): a collision node, as Set makes one.
            // Duplicate names meet here, since equal names hash equally.
            var items = children.ToArray();
            for (var i = 1; i < items.Length; i++)
            {
                for (var j = 0; j < i; j++)
                {
                    if (items[i].Name == items[j].Name)
                    {
                        throw new InvalidDataException($"two children named '{items[i].Name}'");
                    }
                }
            }

            return new CollisionNode(Hash(items[0].Name), items);
        }

        return BuildNode(children, keys, shift);
    }

    /// <summary>The 5-bit slot index at <paramref name="shift"/> (the last level has 2 bits) from a <see cref="TrieOrder"/> key.</summary>
    private static int Chunk(uint key, int shift) =>
        shift < 30 ? (int)((key >> (27 - shift)) & LevelMask) : (int)(key & 3);

    private static object SetIn(object slot, ZNode child, int hash, int shift, ref bool added)
    {
        switch (slot)
        {
            case BitmapNode node:
            {
                var bit = 1u << ((hash >>> shift) & LevelMask);
                var index = BitOperations.PopCount(node.Bitmap & (bit - 1));
                if ((node.Bitmap & bit) == 0)
                {
                    added = true;
                    return node.Insert(bit, index, child);
                }

                var existing = node.Slots[index];
                return node.Replace(index, SetIn(existing, child, hash, shift + BitsPerLevel, ref added));
            }

            case ZNode leaf:
            {
                if (leaf.Name == child.Name)
                {
                    return child;
                }

                added = true;
                var leafHash = Hash(leaf.Name);
                if (leafHash == hash)
                {
                    return new CollisionNode(hash, [leaf, child]);
                }

                return Split(leaf, leafHash, child, hash, shift);
            }

            case CollisionNode collision:
            {
                var items = collision.Items;
                for (var i = 0; i < items.Length; i++)
                {
                    if (items[i].Name == child.Name)
                    {
                        var copy = (ZNode[])items.Clone();
                        copy[i] = child;
                        return new CollisionNode(hash, copy);
                    }
                }

                added = true;
                return new CollisionNode(hash, [.. items, child]);
            }

            default:
                throw new InvalidOperationException("ChildMap holds an unknown slot type.");
        }
    }

    private static object Split(ZNode a, int hashA, ZNode b, int hashB, int shift)
    {
        if (shift >= 32)
        {
            // Unreachable while hashes differ: 32 bits run out only when they are equal.
            throw new InvalidOperationException("ChildMap split past the hash width.");
        }

        var bitA = 1u << ((hashA >>> shift) & LevelMask);
        var bitB = 1u << ((hashB >>> shift) & LevelMask);
        if (bitA == bitB)
        {
            return new BitmapNode(bitA, [Split(a, hashA, b, hashB, shift + BitsPerLevel)]);
        }

        return bitA < bitB ? new BitmapNode(bitA | bitB, [a, b]) : new BitmapNode(bitA | bitB, [b, a]);
    }

    private static object? RemoveFrom(object slot, ReadOnlySpan<char> name, int hash, int shift, ref bool removed)
    {
        switch (slot)
        {
            case BitmapNode node:
            {
                var bit = 1u << ((hash >>> shift) & LevelMask);
                if ((node.Bitmap & bit) == 0)
                {
                    return node;
                }

                var index = BitOperations.PopCount(node.Bitmap & (bit - 1));
                var existing = node.Slots[index];
                var replacement = RemoveFrom(existing, name, hash, shift + BitsPerLevel, ref removed);
                if (!removed)
                {
                    return node;
                }

                if (replacement is null)
                {
                    if (node.Slots.Length == 1)
                    {
                        return null;
                    }

                    var without = node.Remove(bit, index);
                    // A lone leaf below the root moves up, so lookups stay short and the shape stays canonical.
                    return shift > 0 && without.Slots.Length == 1 && without.Slots[0] is ZNode ? without.Slots[0] : without;
                }

                if (shift > 0 && node.Slots.Length == 1 && replacement is ZNode)
                {
                    return replacement;
                }

                return node.Replace(index, replacement);
            }

            case ZNode leaf:
                if (name.SequenceEqual(leaf.Name))
                {
                    removed = true;
                    return null;
                }

                return leaf;

            case CollisionNode collision:
            {
                var items = collision.Items;
                for (var i = 0; i < items.Length; i++)
                {
                    if (name.SequenceEqual(items[i].Name))
                    {
                        removed = true;
                        if (items.Length == 2)
                        {
                            return items[1 - i];
                        }

                        var copy = new ZNode[items.Length - 1];
                        Array.Copy(items, 0, copy, 0, i);
                        Array.Copy(items, i + 1, copy, i, items.Length - i - 1);
                        return new CollisionNode(collision.Hash, copy);
                    }
                }

                return collision;
            }

            default:
                throw new InvalidOperationException("ChildMap holds an unknown slot type.");
        }
    }

    private sealed class BitmapNode(uint bitmap, object[] slots)
    {
        public static readonly BitmapNode Empty = new(0, []);

        public uint Bitmap { get; } = bitmap;

        public object[] Slots { get; } = slots;

        public BitmapNode Insert(uint bit, int index, object item)
        {
            var slots = new object[Slots.Length + 1];
            Array.Copy(Slots, 0, slots, 0, index);
            slots[index] = item;
            Array.Copy(Slots, index, slots, index + 1, Slots.Length - index);
            return new BitmapNode(Bitmap | bit, slots);
        }

        public BitmapNode Replace(int index, object item)
        {
            var slots = (object[])Slots.Clone();
            slots[index] = item;
            return new BitmapNode(Bitmap, slots);
        }

        public BitmapNode Remove(uint bit, int index)
        {
            var slots = new object[Slots.Length - 1];
            Array.Copy(Slots, 0, slots, 0, index);
            Array.Copy(Slots, index + 1, slots, index, Slots.Length - index - 1);
            return new BitmapNode(Bitmap & ~bit, slots);
        }
    }

    private sealed class CollisionNode(int hash, ZNode[] items)
    {
        public int Hash { get; } = hash;

        public ZNode[] Items { get; } = items;
    }
}

internal delegate void ChildVisitor<TState>(ref TState state, ZNode child);
