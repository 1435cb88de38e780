using System.Globalization;
using System.Text;

namespace Zk.Embedded.Tree;

/// <summary>
/// ZooKeeper's quota bookkeeping (<c>Quotas</c>, <c>StatsTrack</c>, <c>DataTree.updateQuotaStat</c>): a path with
/// a zookeeper_limits node under /zookeeper/quota has its subtree's node count and data bytes kept in the sibling
/// zookeeper_stats node, as "count=N,bytes=M". Quotas are only counted, never enforced (nor are they in ZooKeeper
/// unless hard limits are set).
/// </summary>
internal static class QuotaRules
{
    public const string Root = "/zookeeper/quota";
    public const string LimitNode = "zookeeper_limits";
    public const string StatNode = "zookeeper_stats";

    /// <summary>"/zookeeper/quota/a/b" → "/a/b" (<c>Quotas.trimQuotaPath</c>).</summary>
    public static string Trim(string quotaPath) => quotaPath[Root.Length..];

    public static string StatPath(string path) => Root + path + "/" + StatNode;

    /// <summary>The longest path with a quota that is <paramref name="path"/> or one of its ancestors (never / or /zookeeper).</summary>
    public static string? MaxPrefixWithQuota(TreeState state, string path)
    {
        if (state.Quotas.IsEmpty || IsInZookeeperSubtree(path))
        {
            return null;
        }

        for (var current = path; current.Length > 1; current = PathRules.Parent(current))
        {
            if (state.Quotas.Contains(current))
            {
                return current;
            }
        }

        return null;
    }

    /// <summary>/zookeeper and the nodes below it, which quotas never count; /zookeeperx is an ordinary path.</summary>
    private static bool IsInZookeeperSubtree(string path) =>
        path.StartsWith("/zookeeper", StringComparison.Ordinal) && (path.Length == "/zookeeper".Length || path["/zookeeper".Length] == '/');

    /// <summary>The stats text for a count and byte total, keeping any extra keys <paramref name="previous"/> had.</summary>
    public static byte[] Stats(long count, long bytes, byte[]? previous)
    {
        var text = new StringBuilder(string.Create(CultureInfo.InvariantCulture, $"count={count},bytes={bytes}"));
        if (previous is not null)
        {
            var old = Encoding.UTF8.GetString(previous);
            var extra = old.IndexOf("=;", StringComparison.Ordinal);
            if (extra >= 0)
            {
                text.Append(old.AsSpan(extra));
            }
        }

        return Encoding.UTF8.GetBytes(text.ToString());
    }

    /// <summary>Count and bytes from a stats or limits text ("count=N,bytes=M[...]"); zeros where absent.</summary>
    public static (long Count, long Bytes) Parse(byte[]? data)
    {
        long count = 0, bytes = 0;
        if (data is null)
        {
            return (0, 0);
        }

        foreach (var part in Encoding.UTF8.GetString(data).Split(',', ';'))
        {
            var eq = part.IndexOf('=');
            if (eq <= 0)
            {
                continue;
            }

            var value = part[(eq + 1)..].TrimEnd('=');
            if (part.StartsWith("count=", StringComparison.Ordinal))
            {
                _ = long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out count);
            }
            else if (part.StartsWith("bytes=", StringComparison.Ordinal))
            {
                _ = long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out bytes);
            }
        }

        return (count, bytes);
    }

    /// <summary>Nodes and data bytes of the subtree at <paramref name="node"/>, itself included (<c>DataTree.getCounts</c>).</summary>
    public static (long Count, long Bytes) Count(ZNode node)
    {
        long count = 1, bytes = node.Data?.Length ?? 0;
        foreach (var name in node.Children.Names())
        {
            var (c, b) = Count(node.Children.Find(name)!);
            count += c;
            bytes += b;
        }

        return (count, bytes);
    }
}
