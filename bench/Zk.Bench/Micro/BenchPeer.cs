using System.Globalization;
using Zk.Embedded;
using Zk.Embedded.Api;

namespace Zk.Bench.Micro;

/// <summary>A peer with one session and the znodes the micro benchmarks read and write.</summary>
internal sealed class BenchPeer : IAsyncDisposable
{
    public const string DataPath = "/bench/data";
    public const string WidePath = "/bench/wide";
    public const string ScratchPath = "/bench/scratch";
    public const int WideChildren = 10_000;
    public const int ValueBytes = 1024;

    private BenchPeer(ZkPeer peer, IZooKeeper session, byte[] value)
    {
        Peer = peer;
        Session = session;
        Value = value;
    }

    public ZkPeer Peer { get; }

    public IZooKeeper Session { get; }

    public byte[] Value { get; }

    public static async Task<BenchPeer> StartAsync()
    {
        var peer = await ZkPeer.StartAsync(new ZkPeerOptions()).ConfigureAwait(false);
        var session = await peer.ConnectAsync(new ZkSessionOptions { SessionTimeout = TimeSpan.FromSeconds(30) }).ConfigureAwait(false);
        var value = new byte[ValueBytes];
        Random.Shared.NextBytes(value);
        await session.CreateAsync("/bench", null, Acl.OpenUnsafe, CreateMode.Persistent).ConfigureAwait(false);
        await session.CreateAsync(DataPath, value, Acl.OpenUnsafe, CreateMode.Persistent).ConfigureAwait(false);
        await session.CreateAsync(WidePath, null, Acl.OpenUnsafe, CreateMode.Persistent).ConfigureAwait(false);
        var pending = new List<Task>(WideChildren);
        for (var i = 0; i < WideChildren; i++)
        {
            pending.Add(session.CreateAsync(WidePath + "/c" + i.ToString("D5", CultureInfo.InvariantCulture), null, Acl.OpenUnsafe, CreateMode.Persistent).AsTask());
        }

        await Task.WhenAll(pending).ConfigureAwait(false);
        return new BenchPeer(peer, session, value);
    }

    /// <summary>The value of a ValueTask the caller expects to be done already (reads of an idle session); waits otherwise.</summary>
    public static T Completed<T>(ValueTask<T> pending) => pending.IsCompletedSuccessfully ? pending.Result : pending.AsTask().GetAwaiter().GetResult();

    public async ValueTask DisposeAsync()
    {
        await Session.DisposeAsync().ConfigureAwait(false);
        await Peer.DisposeAsync().ConfigureAwait(false);
    }
}
