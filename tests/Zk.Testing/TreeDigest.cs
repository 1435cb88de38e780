using System.Security.Cryptography;
using System.Text;
using Zk.Embedded.Tree;

namespace Zk.Testing;

/// <summary>A digest of a whole tree, equal on two peers exactly when they hold the same state.</summary>
internal static class TreeDigest
{
    /// <summary>SHA-256 over every node's path, data, ACL and stat, in path order, then the session table.</summary>
    public static string Of(TreeState state) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(Text(state))));

    /// <summary>The lines of two trees' digested texts that only one of them has (for a failure message), or null when they are the same.</summary>
    public static string? Difference(TreeState a, TreeState b)
    {
        var left = Text(a).Split('\n');
        var right = Text(b).Split('\n');
        var onlyLeft = left.Except(right).Take(8).ToList();
        var onlyRight = right.Except(left).Take(8).ToList();
        return onlyLeft.Count + onlyRight.Count == 0 ? null
            : $"only in the first: {string.Join("; ", onlyLeft)}\n  only in the second: {string.Join("; ", onlyRight)}";
    }

    private static string Text(TreeState state)
    {
        var text = new StringBuilder();
        var pending = new Stack<string>();
        pending.Push("/");
        var paths = new List<string>();
        while (pending.TryPop(out var path))
        {
            paths.Add(path);
            foreach (var name in state.Find(path)!.Children.Names())
            {
                pending.Push(path == "/" ? "/" + name : path + "/" + name);
            }
        }

        paths.Sort(StringComparer.Ordinal);
        foreach (var path in paths)
        {
            var node = state.Find(path)!;
            text.Append(path).Append('|').Append(Convert.ToHexString(node.Data ?? [])).Append('|').Append(node.Acl).Append('|').Append(node.ToStat()).Append('\n');
        }

        foreach (var id in state.Sessions.Keys.OrderBy(id => id.Value))
        {
            text.Append("session ").Append(state.Sessions[id]).Append('\n');
        }

        return text.ToString();
    }
}
