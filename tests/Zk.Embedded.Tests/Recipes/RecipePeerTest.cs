using Zk.Embedded.Api;
using Zk.Embedded.Tests.Interop;
using Zk.Embedded.Tests.Support;
using Zk.Embedded.Wire.Client;

namespace Zk.Embedded.Tests.Recipes;

/// <summary>A recipe test class's peer: a fresh <see cref="TestPeer"/> per test, disposed after it.</summary>
public abstract class RecipePeerTest : IAsyncLifetime
{
    private TestPeer? _peer;

    /// <summary>This test's peer.</summary>
    internal TestPeer Peer => _peer ?? throw new InvalidOperationException("the peer starts in InitializeAsync");

    public async Task InitializeAsync() => _peer = await TestPeer.StartAsync();

    public async Task DisposeAsync()
    {
        if (_peer is not null)
        {
            await _peer.DisposeAsync();
        }
    }

    /// <summary>Opens <paramref name="count"/> sessions at once; disposing the group closes them all, also when the test fails.</summary>
    internal Task<SessionGroup> ConnectManyAsync(int count) => SessionGroup.ConnectAsync(Peer, count);
}

/// <summary>Sessions a test opened together; disposing closes each.</summary>
internal sealed class SessionGroup(IZooKeeper[] sessions) : IReadOnlyList<IZooKeeper>, IAsyncDisposable
{
    /// <summary>Opens <paramref name="count"/> in-process sessions on <paramref name="peer"/>.</summary>
    public static async Task<SessionGroup> ConnectAsync(TestPeer peer, int count) =>
        new(await Task.WhenAll(Enumerable.Range(0, count).Select(_ => peer.ConnectAsync())));

    /// <summary>Opens <paramref name="count"/> wire client sessions on Apache ZooKeeper.</summary>
    public static async Task<SessionGroup> ConnectAsync(ApacheZooKeeper server, int count)
    {
        var connect = $"127.0.0.1:{server.ClientEndPoint.Port}";
        return new(await Task.WhenAll(Enumerable.Range(0, count).Select(async _ => (IZooKeeper)await ZkClient.ConnectAsync(connect))));
    }

    public int Count => sessions.Length;

    public IZooKeeper this[int index] => sessions[index];

    public IEnumerator<IZooKeeper> GetEnumerator() => ((IEnumerable<IZooKeeper>)sessions).GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

    public async ValueTask DisposeAsync()
    {
        foreach (var zk in sessions)
        {
            await zk.DisposeAsync();
        }
    }
}
