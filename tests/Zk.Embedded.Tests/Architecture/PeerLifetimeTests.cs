using System.Runtime.CompilerServices;
using Zk.Embedded.Api;
using Zk.Embedded.Wire.Client;

namespace Zk.Embedded.Tests.Architecture;

/// <summary>
/// A disposed peer leaves nothing behind that keeps it alive: an application (or a test suite) that starts and
/// stops peers must get their trees back. Statics are the usual culprit (the metrics' observable gauges, caches).
/// </summary>
public sealed class PeerLifetimeTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_disposed_peer_with_sessions_watches_a_client_port_and_a_wire_client_can_be_collected(bool durable)
    {
        using var dir = new Storage.TempDirectory();
        var (peer, tree) = await UseAndDisposeAsync(durable ? dir.Path : null);
        for (var attempt = 0; attempt < 10 && (peer.IsAlive || tree.IsAlive); attempt++)
        {
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
            await Task.Yield();
        }

        Assert.False(peer.IsAlive, "expected the disposed peer to be collectable; something still references it");
        Assert.False(tree.IsAlive, "expected the disposed peer's core and tree to be collectable; something still references them");
    }

    /// <summary>Starts a peer, uses it in-process and over the wire, disposes it; only weak references come back.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static async Task<(WeakReference Peer, WeakReference Core)> UseAndDisposeAsync(string? dataDir)
    {
        var peer = await ZkPeer.StartAsync(new ZkPeerOptions { DataDir = dataDir, ClientPort = 0 });
        var weak = (new WeakReference(peer), new WeakReference(peer.Core));
        await using (var session = await peer.ConnectAsync())
        {
            await session.CreateAsync("/lifetime", [1], Acl.OpenUnsafe, CreateMode.Persistent);
            await session.GetDataAsync("/lifetime", _ => { });
            await session.SetDataAsync("/lifetime", [2]);
        }

        var endPoint = peer.ClientEndPoint!;
        await using (var client = await ZkClient.ConnectAsync($"{endPoint.Address}:{endPoint.Port}"))
        {
            await client.ExistsAsync("/lifetime", _ => { });
            await client.DeleteAsync("/lifetime");
        }

        await peer.DisposeAsync();
        return weak;
    }
}
