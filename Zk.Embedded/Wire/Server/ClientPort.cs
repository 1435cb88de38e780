using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Zk.Embedded.Sessions;
using Zk.Embedded.Tree;

namespace Zk.Embedded.Wire.Server;

/// <summary>
/// The peer's client port: accepts connections (at most maxClientCnxns per client address, as ZooKeeper counts them)
/// and serves each with a <see cref="WireConnection"/>, without a thread per connection.
/// </summary>
internal sealed class ClientPort : IAsyncDisposable
{
    private readonly PeerCore _peer;
    private readonly Socket _listener;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<WireConnection, byte> _connections = new();
    private readonly ConcurrentDictionary<IPAddress, int> _perAddress = new();
    private readonly Task _accepting;
    private int _outstanding;
    private int _treeWalks;

    public ClientPort(PeerCore peer, IPEndPoint endPoint)
    {
        _peer = peer;
        Whitelist = FourLetterWords.ParseWhitelist(peer.Options.FourLetterWordWhitelist);
        _listener = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(endPoint);
        _listener.Listen(512);
        LocalEndPoint = (IPEndPoint)_listener.LocalEndPoint!;
        Log.Listening(peer.Logger, LocalEndPoint);
        _accepting = AcceptAsync();
    }

    public IPEndPoint LocalEndPoint { get; }

    public HashSet<string> Whitelist { get; }

    /// <summary>The port's request counters and latency (srvr, stat, mntr; reset by srst).</summary>
    public RequestStats Stats { get; } = new(striped: true);

    /// <summary>crst: every connection's counters start again.</summary>
    public void ResetConnectionStats()
    {
        foreach (var connection in _connections.Keys)
        {
            connection.Stats.Reset();
        }
    }

    /// <summary>The open connections (tests look at their limits).</summary>
    public ICollection<WireConnection> Connections => _connections.Keys;

    /// <summary>Requests read on every connection whose replies have not been written yet.</summary>
    public int Outstanding => Volatile.Read(ref _outstanding);

    public void AddOutstanding(int delta) => Interlocked.Add(ref _outstanding, delta);

    /// <summary>
    /// ZooKeeper's <c>ZooKeeperServer.shouldThrottle</c>: past globalOutstandingLimit, a connection with any request of
    /// its own outstanding stops reading (and reads again once its replies are written).
    /// </summary>
    public bool ShouldThrottle(int connectionOutstanding) => connectionOutstanding > 0 && Outstanding > _peer.Options.GlobalOutstandingLimit;

    public void Forget(WireConnection connection)
    {
        if (_connections.TryRemove(connection, out _) && connection.Remote is IPEndPoint ip)
        {
            _perAddress.AddOrUpdate(ip.Address, 0, static (_, n) => Math.Max(0, n - 1));
        }
    }

    /// <summary>The numbers the four-letter words report, each gathered only when a word reads it.</summary>
    public ServerFacts Facts()
    {
        var state = _peer.Pipeline.State;
        var options = _peer.Options;
        return new ServerFacts(
            // ZooKeeper's DataTree keeps the root under both "" and "/", so its node count is one more than the znodes.
            () => (state.Zxid, state.NodeCount + 1, state.Sessions.Count, _peer.Watches.Count),
            Stats.Read,
            () => state.Ephemerals.Sum(kv => kv.Value.Count),
            () => ApproximateDataSize(state.Root),
            () => _connections.Keys.Select(c => new ConnectionFacts($"{c.Remote}", c.Stats.Read())).ToArray(),
            () => _peer.Watches.Snapshot().ToArray(),
            () => state.Ephemerals.Select(kv => (kv.Key, kv.Value.Order(StringComparer.Ordinal).ToArray())).ToArray(),
            () => Configuration(options),
            Serving: _peer.Pipeline.NotServing is null,
            Mode: _peer.Mode.ToString().ToLowerInvariant(),
            Ensemble: _peer.Member?.Status is { } status ? new EnsembleFacts(
                $"{status.State.ToString().ToLowerInvariant()} - {status.Phase.ToString().ToLowerInvariant()}",
                status.Learners.Learners, status.Learners.SyncedFollowers, status.Learners.SyncedObservers) : null);
    }

    private (string, string)[] Configuration(ZkPeerOptions options) =>
    [
        ("clientPort", LocalEndPoint.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        ("dataDir", options.DataDir is null ? "" : Path.GetFullPath(options.DataDir)),
        ("tickTime", ((int)options.TickTime.TotalMilliseconds).ToString(System.Globalization.CultureInfo.InvariantCulture)),
        ("maxClientCnxns", options.MaxClientConnections.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        ("minSessionTimeout", ((int)options.EffectiveMinSessionTimeout.TotalMilliseconds).ToString(System.Globalization.CultureInfo.InvariantCulture)),
        ("maxSessionTimeout", ((int)options.EffectiveMaxSessionTimeout.TotalMilliseconds).ToString(System.Globalization.CultureInfo.InvariantCulture)),
        ("serverId", options.ServerId.ToString(System.Globalization.CultureInfo.InvariantCulture)),
    ];

    /// <summary>Tree walks made for mntr's approximate data size (tests check that other words make none).</summary>
    public int TreeWalks => Volatile.Read(ref _treeWalks);

    /// <summary>
    /// ZooKeeper's <c>DataTree.approximateDataSize</c>: every node's path length plus its data length. A walk of the
    /// tree, paid only when mntr is asked.
    /// </summary>
    private long ApproximateDataSize(ZNode root)
    {
        Interlocked.Increment(ref _treeWalks);
        var total = 0L;
        var pending = new Stack<(ZNode Node, int PathLength)>();
        pending.Push((root, 1));
        while (pending.TryPop(out var item))
        {
            total += item.PathLength + (item.Node.Data?.Length ?? 0);
            var visit = (Pending: pending, Parent: ReferenceEquals(item.Node, root) ? 0 : item.PathLength);
            item.Node.Children.ForEach(ref visit, static (ref (Stack<(ZNode, int)> Pending, int Parent) v, ZNode child) =>
                v.Pending.Push((child, v.Parent + 1 + child.Name.Length)));
        }

        return total;
    }

    private async Task AcceptAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            socket.NoDelay = true;
            var address = (socket.RemoteEndPoint as IPEndPoint)?.Address ?? IPAddress.Loopback;
            var max = _peer.Options.MaxClientConnections;
            var count = _perAddress.AddOrUpdate(address, 1, static (_, n) => n + 1);
            if (max > 0 && count > max)
            {
                _perAddress.AddOrUpdate(address, 0, static (_, n) => Math.Max(0, n - 1));
                Log.TooManyConnections(_peer.Logger, address, max);
                socket.Dispose();
                continue;
            }

            var connection = new WireConnection(socket, _peer, this);
            _connections[connection] = 0;
            _ = Task.Run(() => connection.RunAsync(_stopping.Token));
        }
    }

    /// <summary>
    /// Closes every client connection (their sessions live on): an ensemble member that lost its leader does, as
    /// ZooKeeper's shuts its server down, so clients move to a member that serves.
    /// </summary>
    public void CloseConnections()
    {
        foreach (var connection in _connections.Keys)
        {
            connection.Close();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stopping.Cancel();
        _listener.Dispose();
        await _accepting.ConfigureAwait(false);
        CloseConnections();

        _stopping.Dispose();
    }
}
