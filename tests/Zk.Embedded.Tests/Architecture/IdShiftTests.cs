using System.Text.RegularExpressions;
using Zk.Embedded.Tests.Support;

namespace Zk.Embedded.Tests.Architecture;

/// <summary>
/// Zxids and session ids are the value types <c>Api.Zxid</c> (epoch, counter) and <c>Api.SessionId</c>: their bit
/// layout lives in those two files alone. A hand-made <c>&lt;&lt; 32</c>, <c>&gt;&gt; 32</c> or <c>&amp; 0xffffffff</c>
/// anywhere else in the library or the server is how an epoch and a counter get mixed up again, so none may come back.
/// </summary>
public sealed partial class IdShiftTests
{
    /// <summary>The files that own the layout (paths under the repository root).</summary>
    private static readonly string[] Owners = [Path.Combine("Zk.Embedded", "Api", "Zxid.cs"), Path.Combine("Zk.Embedded", "Api", "SessionId.cs")];

    [Theory]
    [InlineData("Zk.Embedded")]
    [InlineData("Zk.Server")]
    public void No_source_splits_or_builds_a_zxid_by_hand(string project)
    {
        var offenders = new List<string>();
        foreach (var file in Sources(project))
        {
            var lines = File.ReadAllLines(file);
            for (var i = 0; i < lines.Length; i++)
            {
                if (HandMadeShift().IsMatch(CodeOf(lines[i])))
                {
                    offenders.Add($"{Path.GetRelativePath(Repository.Root, file)}:{i + 1}: {lines[i].Trim()}");
                }
            }
        }

        Assert.True(
            offenders.Count == 0,
            "expected no 32-bit shift or mask outside Api/Zxid.cs and Api/SessionId.cs (use new Zxid(epoch, counter), .Epoch, .Counter); found:\n"
            + string.Join("\n", offenders));
    }

    [Theory]
    [InlineData("var zxid = (epoch << 32) | counter;")]
    [InlineData("var epoch = zxid >>> 32;")]
    [InlineData("var epoch = (int)(zxid>>32);")]
    [InlineData("var counter = zxid & 0xFFFFFFFFL;")]
    public void The_scan_finds_a_hand_made_shift(string line) =>
        Assert.True(HandMadeShift().IsMatch(CodeOf(line)), $"expected the scan to flag: {line}");

    [Theory]
    [InlineData("var value = ((unixMillis << 24) >>> 8) | (serverId << 56);")]
    [InlineData("// (epoch << 32) | counter, as ZxidUtils.makeZxid")]
    [InlineData("public const long MaxTtl = 0x000000FFFFFFFFFFL;")]
    public void The_scan_leaves_other_shifts_and_comments_alone(string line) =>
        Assert.False(HandMadeShift().IsMatch(CodeOf(line)), $"expected the scan not to flag: {line}");

    private static IEnumerable<string> Sources(string project)
    {
        var dir = Path.Combine(Repository.Root, project);
        var separator = Path.DirectorySeparatorChar;
        return Directory.EnumerateFiles(dir, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{separator}obj{separator}", StringComparison.Ordinal) && !f.Contains($"{separator}bin{separator}", StringComparison.Ordinal))
            .Where(f => !Owners.Contains(Path.GetRelativePath(Repository.Root, f)));
    }

    /// <summary>The line without its <c>//</c> comment (doc comments may name ZooKeeper's own shifts).</summary>
    private static string CodeOf(string line)
    {
        var comment = line.IndexOf("//", StringComparison.Ordinal);
        return comment < 0 ? line : line[..comment];
    }

    [GeneratedRegex(@"<<\s*32\b|>>>?\s*32\b|&\s*0x0*ffffffff(?:u|l|ul|lu)?\b", RegexOptions.IgnoreCase)]
    private static partial Regex HandMadeShift();
}
