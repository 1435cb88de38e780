namespace Zk.Embedded.Tree;

/// <summary>ZooKeeper's path rules (<c>PathUtils.validatePath</c>) and path helpers.</summary>
internal static class PathRules
{
    /// <summary>Why the path is not a valid znode path, or null when it is.</summary>
    public static string? Validate(string? path)
    {
        if (path is null)
        {
            return "Path cannot be null";
        }

        if (path.Length == 0)
        {
            return "Path length must be > 0";
        }

        if (path[0] != '/')
        {
            return "Path must start with / character";
        }

        if (path.Length == 1)
        {
            return null;
        }

        if (path[^1] == '/')
        {
            return "Path must not end with / character";
        }

        var last = '/';
        for (var i = 1; i < path.Length; last = path[i], i++)
        {
            var c = path[i];
            if (c == 0)
            {
                return Invalid(path, $"null character not allowed @{i}");
            }

            if (c == '/' && last == '/')
            {
                return Invalid(path, $"empty node name specified @{i}");
            }

            if (c == '.' && last == '.')
            {
                if (path[i - 2] == '/' && (i + 1 == path.Length || path[i + 1] == '/'))
                {
                    return Invalid(path, $"relative paths not allowed @{i}");
                }
            }
            else if (c == '.')
            {
                if (path[i - 1] == '/' && (i + 1 == path.Length || path[i + 1] == '/'))
                {
                    return Invalid(path, $"relative paths not allowed @{i}");
                }
            }
            else if (c is (> '\u0000' and <= '\u001f') or (>= '\u007f' and <= '\u009f') or (>= '\ud800' and <= '\uf8ff') or >= '\ufff0')
            {
                return Invalid(path, $"invalid character @{i}");
            }
        }

        return null;
    }

    /// <summary>The parent of a valid non-root path ("/" for top-level nodes).</summary>
    public static string Parent(string path)
    {
        var slash = path.LastIndexOf('/');
        return slash == 0 ? "/" : path[..slash];
    }

    public static string Name(string path) => path[(path.LastIndexOf('/') + 1)..];

    public static string Join(string parent, string name) => parent.Length == 1 ? "/" + name : parent + "/" + name;

    /// <summary>The paths ZooKeeper refuses to delete (<c>DataTree.isSpecialPath</c>).</summary>
    public static bool IsSpecial(string path) =>
        path is "/" or "/zookeeper" or "/zookeeper/quota" or "/zookeeper/config";

    /// <summary>The sequence suffix as Java's <c>String.format("%010d", n)</c> writes it.</summary>
    public static string SequenceSuffix(int counter) =>
        counter >= 0 ? counter.ToString("D10", System.Globalization.CultureInfo.InvariantCulture)
            : "-" + ((long)-(long)counter).ToString("D9", System.Globalization.CultureInfo.InvariantCulture);

    private static string Invalid(string path, string reason) => $"Invalid path string \"{path}\" caused by {reason}";
}
