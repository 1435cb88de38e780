using System.Security.Cryptography;
using System.Text;
using Zk.Embedded.Tree;

namespace Zk.Testing;

/// <summary>A digest of a whole tree, equal on two peers exactly when they hold the same state.</summary>
internal static class TreeDigest
{
    /// <summary>SHA-256 over every node's path, data, ACL and stat, in path order, then the session table.</summary>
    public static string Of(TreeState state)
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

        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }
}
