using Xunit.Abstractions;
using Zk.Embedded.Api;
using Zk.Embedded.Tests.Support;
using Zk.Embedded.Transport;
using Zk.Transport.InMemory;

namespace Zk.Embedded.Tests.Ensemble;

/// <summary>
/// A SNAP larger than the transport's message bound goes in chunks (issue 13 point c): a tree of several MB reaches a
/// follower whose disk was wiped over a network whose messages are at most 64 KiB, through its data directory (the
/// chunks assembled into a spool file, installed by a rename), and every member ends with the same tree.
/// </summary>
[Collection(RunsAlone.Name)]
public sealed class ChunkedSnapEnsembleTests(ITestOutputHelper output) : IDisposable
{
    private const int MaxMessageBytes = 64 * 1024;
    private readonly TraceLogger _log = new();

    public void Dispose() => output.WriteLine(_log.Tail());

    [Fact]
    public async Task A_tree_of_several_megabytes_reaches_a_wiped_follower_in_chunks_under_a_small_message_bound()
    {
        await using var ensemble = await EnsembleKit.StartAsync(output, _log, 3, o => o with
        {
            Durable = true,
            SyncLimit = 20, // durable writers on a busy machine: a slow fsync must not cost the leader its quorum here
            Network = o.Network with { Limits = new TransportLimits { MaxMessageBytes = MaxMessageBytes } },
        });
        // Both followers synced first: crashing one must leave the leader its quorum.
        await EnsembleKit.WaitAsync(() => ensemble.Followers.Count == 2, () => "expected both followers to serve");
        var (leader, wiped) = (ensemble.Leader!.Value, ensemble.Followers[0]);
        var dataDir = ensemble[wiped].Options.DataDir!;
        await ensemble.CrashAsync(wiped);
        Directory.Delete(dataDir, recursive: true);

        // 600 nodes of 8 KiB: about 5 MB of tree, past the 500-txn DIFF window, so the wiped follower gets a SNAP.
        await using (var zk = await ensemble.ConnectAsync(leader))
        {
            var data = new byte[8 * 1024];
            await Task.WhenAll(Enumerable.Range(0, 600).Select(i => EnsembleKit.RetryOnConnectionLossAsync(async () =>
            {
                try
                {
                    await zk.CreateAsync($"/big{i}", data, Acl.OpenUnsafe, CreateMode.Persistent);
                }
                catch (ZkException e) when (e.Code == ZkErrorCode.NodeExists)
                {
                    // an earlier try committed before its connection was lost
                }
            })));
        }

        await ensemble.RestartAsync(wiped);
        await EnsembleKit.AssertConvergedAsync(ensemble, p => p.Core.Pipeline.State.Find("/big599") is not null);
        var assembled = _log.Lines.LastOrDefault(l => l.Contains("received the SNAP", StringComparison.Ordinal) && l.Contains($"Peer {wiped} ", StringComparison.Ordinal));
        Assert.True(assembled is not null, $"expected server {wiped} to assemble a chunked SNAP; its log: {_log.Tail()}");
        var chunks = int.Parse(assembled!.Split(" in ")[^1].Split(' ')[0]);
        Assert.True(chunks >= 5_000_000 / MaxMessageBytes, $"expected the ~5 MB SNAP in at least {5_000_000 / MaxMessageBytes} chunks: {assembled}");
        // The tree is restored from the spool file before the storage worker renames it into place.
        await EnsembleKit.WaitAsync(() => Directory.GetFiles(dataDir, "snap-*.part").Length == 0,
            () => $"expected no spool file left in {dataDir}: {string.Join(", ", Directory.GetFiles(dataDir))}");
    }
}
