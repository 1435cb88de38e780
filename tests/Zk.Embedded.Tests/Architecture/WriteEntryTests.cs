using Zk.Embedded.Tests.Support;
using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;

namespace Zk.Embedded.Tests.Architecture;

/// <summary>
/// Every write enters through <c>PeerCore.Writes</c> (the <c>IWriteSubmitter</c>), so a follower forwarding its writes to
/// the leader is one swap: no session, connection or timer may submit to the local pipeline directly.
/// </summary>
public sealed partial class WriteEntryTests
{
    [Fact]
    public void Sessions_connections_and_timers_submit_writes_only_through_the_write_submitter()
    {
        var root = Path.Combine(RepoRoot(), "Zk.Embedded");
        var direct = new List<string>();
        var viaSubmitter = 0;
        foreach (var file in Directory.EnumerateFiles(root, "*.cs", SearchOption.AllDirectories))
        {
            if (file.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            {
                continue;
            }

            var text = File.ReadAllText(file);
            direct.AddRange(DirectSubmit().Matches(text).Select(m => $"{Path.GetFileName(file)}: {m.Value}"));
            viaSubmitter += SubmitterCall().Count(text);
        }

        Assert.True(direct.Count == 0, $"writes submitted past the write submitter: {string.Join("; ", direct)}");
        // In-process (write, close), wire (createSession, request), expiry and two container clean-ups.
        Assert.True(viaSubmitter >= 7, $"expected the seven submit sites to use Writes, found {viaSubmitter}");
    }

    private static string RepoRoot() => Repository.Root;

    [GeneratedRegex(@"Processor\s*\.\s*(SubmitAsync|Post)\s*\(")]
    private static partial Regex DirectSubmit();

    [GeneratedRegex(@"Writes\s*\.\s*(SubmitAsync|Post)\s*\(")]
    private static partial Regex SubmitterCall();
}
