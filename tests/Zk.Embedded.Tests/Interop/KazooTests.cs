using Xunit.Abstractions;

namespace Zk.Embedded.Tests.Interop;

/// <summary>Python's kazoo client, unchanged, against an in-process peer: kazoo_interop.py does the checks.</summary>
public sealed class KazooTests(ITestOutputHelper output)
{
    [SkippableFact]
    public async Task Kazoo_sessions_ephemerals_sequentials_watches_transactions_lock_and_election_work_against_our_peer()
    {
        InteropTools.RequireKazoo();
        await using var peer = await ZkPeer.StartAsync(new ZkPeerOptions { ClientPort = 0, FourLetterWordWhitelist = "*" });
        var script = Path.Combine(AppContext.BaseDirectory, "Interop", "kazoo_interop.py");
        var endPoint = peer.ClientEndPoint!;

        await using var kazoo = ExternalProcess.Start(InteropTools.DebianPython, ["-u", script, $"{endPoint.Address}:{endPoint.Port}"]);
        kazoo.CloseInput();
        await kazoo.WaitForExitAsync(TimeSpan.FromSeconds(60));
        output.WriteLine(kazoo.Transcript);

        Assert.True(
            kazoo.ExitCode == 0,
            $"expected kazoo_interop.py to exit 0 (every check passed), it exited {kazoo.ExitCode}:\n{kazoo.Transcript}");
        Assert.Contains("all checks passed", kazoo.StdOut, StringComparison.Ordinal);
    }
}
