using CsCheck;
using Xunit.Abstractions;
using Zk.Embedded.Api;
using Zk.Embedded.Tree;

namespace Zk.Embedded.Tests.Model;

/// <summary>
/// <see cref="ChildMap"/> (a persistent HAMT) against a dumb model: a <see cref="Dictionary{TKey, TValue}"/> from name
/// to a marker that tells one version of a child from another (its czxid). CsCheck prints its seed on failure and
/// replays it from the CsCheck_Seed environment variable.
/// </summary>
public sealed class ChildMapTests(ITestOutputHelper output)
{
    private enum Kind
    {
        Set,
        Remove,
        Find,
    }

    private readonly record struct Step(Kind Kind, int Name);

    private static Gen<Step[]> Steps(int poolSize, int minLength, int maxLength) =>
        Gen.Select(Gen.Int[0, 9], Gen.Int[0, poolSize - 1], (k, n) => new Step(k < 5 ? Kind.Set : k < 8 ? Kind.Remove : Kind.Find, n))
            .Array[minLength, maxLength];

    [Fact]
    public void Random_changes_over_a_small_name_pool_match_a_dictionary_at_every_step()
    {
        var pool = Enumerable.Range(0, 24).Select(i => $"n{i}").ToArray();
        Steps(pool.Length, 1, 200).Sample(steps => RunAgainstModel(pool, steps, checkEveryStep: true), iter: 300, writeLine: output.WriteLine, print: Describe);
    }

    [Fact]
    public void Thousands_of_children_match_a_dictionary_and_old_versions_stay_unchanged()
    {
        var pool = Enumerable.Range(0, 6000).Select(i => $"child-{i:x}").ToArray();
        Steps(pool.Length, 4000, 12000).Sample(steps => RunAgainstModel(pool, steps, checkEveryStep: false), iter: 8, writeLine: output.WriteLine, print: Describe);
    }

    [Fact]
    public void Names_with_equal_or_nearly_equal_hashes_match_a_dictionary()
    {
        var pool = CollidingNames(output);
        Assert.True(pool.Count >= 2, "expected the bounded search to find at least one pair of names with equal low hash bits");
        var names = pool.Concat(Enumerable.Range(0, 8).Select(i => $"plain{i}")).ToArray();
        Steps(names.Length, 1, 150).Sample(steps => RunAgainstModel(names, steps, checkEveryStep: true), iter: 400, writeLine: output.WriteLine, print: Describe);
    }

    [Fact]
    public void Two_names_with_the_same_hash_live_side_by_side_and_leave_one_by_one()
    {
        var pair = FindEqualHashes(lowBitsMask: -1, wanted: 1).FirstOrDefault();
        if (pair == default)
        {
            output.WriteLine("No full 32-bit hash collision found within the search bound; the collision node is not covered in this run.");
            return;
        }

        var (a, b) = pair;
        output.WriteLine($"collision: '{a}' and '{b}' hash to {string.GetHashCode(a.AsSpan()):x8}");
        var empty = ChildMap.Empty;
        var withA = empty.Set(Leaf(a, 1));
        var withBoth = withA.Set(Leaf(b, 2));
        var replaced = withBoth.Set(Leaf(a, 3));
        var withoutA = replaced.Remove(a);
        var withoutBoth = withoutA.Remove(b);

        Assert.Equal(2, withBoth.Count);
        Assert.Equal(1, withBoth.Find(a)?.Czxid.Value);
        Assert.Equal(2, withBoth.Find(b)?.Czxid.Value);
        Assert.Equal(2, replaced.Count);
        Assert.Equal(3, replaced.Find(a)?.Czxid.Value);
        Assert.Equal(new[] { a, b }.Order(StringComparer.Ordinal), replaced.Names().Order(StringComparer.Ordinal));
        Assert.Same(replaced, replaced.Remove("absent"));
        Assert.Equal(1, withoutA.Count);
        Assert.Null(withoutA.Find(a));
        Assert.Equal(2, withoutA.Find(b)?.Czxid.Value);
        Assert.Equal(0, withoutBoth.Count);
        Assert.Null(withoutBoth.Find(b));

        // Every earlier version is as it was.
        Assert.Equal(1, withA.Count);
        Assert.Null(withA.Find(b));
        Assert.Equal(1, withBoth.Find(a)?.Czxid.Value);
        Assert.Equal(3, replaced.Find(a)?.Czxid.Value);
    }

    [Fact]
    public void A_map_built_in_one_pass_matches_one_built_child_by_child_and_changes_like_it()
    {
        var colliding = CollidingNames(output);
        Gen.Int[0, 3000].Select(Gen.Int[0, 9]).Sample(
            t =>
            {
                var (count, seed) = t;
                var random = new Random(seed);
                var names = Enumerable.Range(0, count).Select(i => $"c{i:x}").Concat(colliding.Take(random.Next(colliding.Count + 1)))
                    .Distinct(StringComparer.Ordinal) // a colliding name may also be one of the generated ones
                    .OrderBy(_ => random.Next()).ToArray();
                var model = names.Select((n, i) => (n, (long)i + 1)).ToDictionary(p => p.n, p => p.Item2, StringComparer.Ordinal);
                var children = names.Select(n => Leaf(n, model[n])).ToArray();
                var bulk = ChildMap.FromChildren(children);
                AssertSame(bulk, model, $"built from {names.Length} children");

                // The bulk map is a normal one: later sets and removes work on it.
                for (var i = 0; i < Math.Min(names.Length, 200); i++)
                {
                    var name = names[random.Next(names.Length)];
                    if (random.Next(2) == 0)
                    {
                        bulk = bulk.Set(Leaf(name, -i));
                        model[name] = -i;
                    }
                    else
                    {
                        bulk = bulk.Remove(name);
                        model.Remove(name);
                    }
                }

                AssertSame(bulk, model, "after changes");
            },
            iter: 60,
            writeLine: output.WriteLine);
    }

    [Fact]
    public void A_map_built_in_one_pass_refuses_two_children_with_one_name()
    {
        Assert.Same(ChildMap.Empty, ChildMap.FromChildren([]));
        Assert.Throws<InvalidDataException>(() => ChildMap.FromChildren([Leaf("a", 1), Leaf("b", 2), Leaf("a", 3)]));
    }

    private static void RunAgainstModel(string[] pool, Step[] steps, bool checkEveryStep)
    {
        var map = ChildMap.Empty;
        var model = new Dictionary<string, long>(StringComparer.Ordinal);
        var history = new List<(ChildMap Map, Dictionary<string, long> Model)>();
        // Snapshots of older versions: every step for short runs, about 40 for long ones.
        var snapshotEvery = checkEveryStep ? 1 : Math.Max(1, steps.Length / 40);
        for (var i = 0; i < steps.Length; i++)
        {
            var step = steps[i];
            var name = pool[step.Name];
            switch (step.Kind)
            {
                case Kind.Set:
                    var marker = i + 1L;
                    map = map.Set(Leaf(name, marker));
                    model[name] = marker;
                    break;
                case Kind.Remove:
                    var before = map;
                    map = map.Remove(name);
                    if (!model.Remove(name))
                    {
                        Assert.True(ReferenceEquals(before, map), $"step {i}: removing absent '{name}' should return the same map");
                    }

                    break;
                case Kind.Find:
                    Assert.True(
                        model.TryGetValue(name, out var expected) ? map.Find(name)?.Czxid.Value == expected : map.Find(name) is null,
                        $"step {i}: Find('{name}') should give marker {(model.TryGetValue(name, out var m) ? m : "none")}, got {map.Find(name)?.Czxid.Value.ToString() ?? "none"}");
                    break;
            }

            if (checkEveryStep)
            {
                AssertSame(map, model, $"after step {i} ({step.Kind} '{name}')");
            }

            if (i % snapshotEvery == 0)
            {
                history.Add((map, new Dictionary<string, long>(model, StringComparer.Ordinal)));
            }
        }

        AssertSame(map, model, "at the end");
        for (var i = 0; i < history.Count; i++)
        {
            AssertSame(history[i].Map, history[i].Model, $"old version #{i}, after later changes");
        }
    }

    private static void AssertSame(ChildMap map, Dictionary<string, long> model, string when)
    {
        Assert.True(model.Count == map.Count, $"{when}: expected Count {model.Count}, got {map.Count}");
        foreach (var (name, marker) in model)
        {
            var found = map.Find(name);
            Assert.True(found?.Czxid.Value == marker, $"{when}: expected '{name}' with marker {marker}, got {found?.Czxid.Value.ToString() ?? "none"}");
        }

        var seen = new Dictionary<string, long>(StringComparer.Ordinal);
        var visited = 0;
        map.ForEach(ref seen, (ref Dictionary<string, long> acc, ZNode child) =>
        {
            acc[child.Name] = child.Czxid.Value;
        });
        foreach (var _ in map.Names())
        {
            visited++;
        }

        Assert.True(visited == model.Count, $"{when}: expected Names() to list {model.Count} names, got {visited}");
        Assert.True(
            seen.Count == model.Count && seen.All(kv => model.TryGetValue(kv.Key, out var m) && m == kv.Value),
            $"{when}: expected enumeration [{string.Join(",", model.Keys.Order(StringComparer.Ordinal))}], got [{string.Join(",", seen.Keys.Order(StringComparer.Ordinal))}]");
        Assert.Equal(model.Keys.Order(StringComparer.Ordinal), map.Names().Order(StringComparer.Ordinal));
    }

    private static ZNode Leaf(string name, long marker) => ZNode.NewLeaf(name, null, AclList.Open, new Zxid(marker), 0, 0);

    private static string Describe(Step[] steps) =>
        $"{steps.Length} steps: " + string.Join(" ", steps.Take(400).Select(s => $"{s.Kind}({s.Name})"));

    /// <summary>
    /// Names whose hashes are equal (the collision node) or agree on the low 30 bits (a split at the last trie level).
    /// String hashes are randomized per process, so the search runs at test time, bounded.
    /// </summary>
    private static List<string> CollidingNames(ITestOutputHelper output)
    {
        var names = new List<string>();
        foreach (var (a, b) in FindEqualHashes(lowBitsMask: -1, wanted: 3).Concat(FindEqualHashes(lowBitsMask: 0x3FFFFFFF, wanted: 3)))
        {
            output.WriteLine($"'{a}' {string.GetHashCode(a.AsSpan()):x8} ~ '{b}' {string.GetHashCode(b.AsSpan()):x8}");
            names.Add(a);
            names.Add(b);
        }

        return names.Distinct(StringComparer.Ordinal).ToList();
    }

    private static List<(string A, string B)> FindEqualHashes(int lowBitsMask, int wanted)
    {
        // 600k names give about 40 full 32-bit collisions by the birthday bound; the search stops at `wanted`.
        const int SearchBound = 600_000;
        var seen = new Dictionary<int, string>(SearchBound);
        var pairs = new List<(string, string)>();
        for (var i = 0; i < SearchBound && pairs.Count < wanted; i++)
        {
            var name = i.ToString("x");
            var key = string.GetHashCode(name.AsSpan()) & lowBitsMask;
            if (seen.TryGetValue(key, out var other))
            {
                if (string.GetHashCode(other.AsSpan()) == string.GetHashCode(name.AsSpan()) || lowBitsMask != -1)
                {
                    pairs.Add((other, name));
                }
            }
            else
            {
                seen[key] = name;
            }
        }

        return pairs;
    }
}
