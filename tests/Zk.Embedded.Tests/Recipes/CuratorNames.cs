using System.Text.RegularExpressions;

namespace Zk.Embedded.Tests.Recipes;

/// <summary>Curator's protected lock node name: <c>_c_&lt;uuid&gt;-lock-&lt;10-digit sequence&gt;</c>.</summary>
internal static partial class CuratorNames
{
    [GeneratedRegex("^_c_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-lock-[0-9]{10}$")]
    public static partial Regex LockNode();

    /// <summary>A protected sequential node of another Curator recipe: <c>_c_&lt;uuid&gt;-&lt;name&gt;&lt;10-digit sequence&gt;</c>.</summary>
    public static Regex Node(string name) =>
        new($"^_c_[0-9a-f]{{8}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{12}}-{Regex.Escape(name)}[0-9]{{10}}$");
}
