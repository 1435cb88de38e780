using System.Threading.Channels;
using NetMQ;
using Zk.Embedded.Transport;
using Zk.Transport.InMemory;

namespace Zk.Transport.NetMQ;

/// <summary>Starts this peer's end of an ensemble's network over NetMQ (ZeroMQ in C#) on TCP.</summary>
public static class NetMqTransport
{
    /// <summary>
    /// Listens on this peer's quorum address and connects to every other member, authenticating each connection both
    /// ways with <see cref="NetMqTransportOptions.SharedSecret"/>. Returns once listening; <see cref="TransportEventKind.Connected"/>
    /// notices follow as members answer. Dispose the transport to close every socket and stop its thread.
    /// </summary>
    /// <exception cref="ArgumentException">An option is wrong (the message names it).</exception>
    /// <exception cref="InvalidOperationException">The quorum address cannot be listened on (taken, or not this machine's).</exception>
    public static IPeerTransport Start(NetMqTransportOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return new NetMqPeer(options);
    }
}

/// <summary>
/// One peer's <see cref="IPeerTransport"/>: a ROUTER on its quorum address that others' DEALERs connect to (what it
/// receives), and one DEALER per other member (what it sends). One connection per direction keeps each pair's order
/// on one TCP stream, lets either side's restart be seen by the other as a dropped connection, and needs no
/// identities chosen by peers. All sockets live on one poller thread; <see cref="Send"/> only queues and wakes it.
/// </summary>
internal sealed class NetMqPeer : IPeerTransport
{
    private readonly NetMqTransportOptions _options;
    private readonly NetMQPoller _poller = new();
    private readonly NetMQQueue<int> _wake = new();
    private readonly NetMQTimer _housekeeping;
    private readonly Inbox _inbox;
    private readonly Dictionary<int, OutboundLink> _links = [];   // fixed at start: read from any thread
    private readonly InboundRouter _router;
    private readonly Thread _thread;
    private int _disposed;
    private int _failed;

    public NetMqPeer(NetMqTransportOptions options)
    {
        _options = options;
        _inbox = new Inbox(options.Limits);
        var context = new PeerContext(options, _poller, _inbox, _wake) { MemberGone = id => _links[id].PeerGone() };
        _router = new InboundRouter(context, Endpoints.Tcp(options.ListenAddress ?? options.Members[options.LocalId], nameof(options.ListenAddress)));
        foreach (var (id, address) in options.Members)
        {
            if (id != options.LocalId)
                _links[id] = new OutboundLink(context, id, Endpoints.Tcp(address, $"Members[{id}]"));
        }
        _wake.ReceiveReady += OnWake;
        _poller.Add(_wake);
        // Reconnects and handshake timeouts are checked this often; well under the shortest backoff.
        _housekeeping = new NetMQTimer(TimeSpan.FromMilliseconds(Math.Clamp(options.ReconnectInterval.TotalMilliseconds / 2, 5, 50)));
        _housekeeping.Elapsed += (_, _) => Tick();
        _poller.Add(_housekeeping);
        foreach (var link in _links.Values)
            link.Open();
        _thread = new Thread(RunPoller) { IsBackground = true, Name = $"zk-netmq-{options.LocalId}" };
        _thread.Start();
        Log.Started(options.Logger, options.LocalId, _router.Endpoint, options.SharedSecret is null ? "authentication off" : "members authenticated by shared secret");
    }

    public int LocalId => _options.LocalId;
    public TransportLimits Limits => _options.Limits;
    public ChannelReader<TransportEvent> Events => _inbox;

    /// <summary>The poller's thread: tests check it has ended after dispose.</summary>
    internal Thread PollerThread => _thread;

    /// <summary>The address actually listened on (<c>tcp://host:port</c>).</summary>
    internal string ListenEndpoint => _router.Endpoint;

    public bool Send(int to, ReadOnlySpan<byte> message)
    {
        _options.Limits.CheckMessage(message.Length);
        if (to == _options.LocalId)
            throw new ArgumentException($"peer {to} cannot send to itself", nameof(to));
        if (Volatile.Read(ref _disposed) == 0 && Volatile.Read(ref _failed) == 0 && _links.TryGetValue(to, out var link) && link.TryEnqueue(message))
            return true;
        Telemetry.SendDropped.Add(1);
        return false;
    }

    /// <summary>
    /// The poller's loop. A fault escaping a handler must not end the host process (an unhandled exception on a
    /// thread does): it is logged and the transport goes dead, its Events completed, as if disposed.
    /// </summary>
    private void RunPoller()
    {
        try
        {
            _poller.Run();
        }
        catch (Exception e)
        {
            Log.PollerFailed(_options.Logger, _options.LocalId, e);
            Volatile.Write(ref _failed, 1);
            _inbox.Close();
        }
    }

    private void OnWake(object? sender, NetMQQueueEventArgs<int> e)
    {
        while (_wake.TryDequeue(out var peer, TimeSpan.Zero))
            _links[peer].Flush();
    }

    private void Tick()
    {
        var now = Environment.TickCount64;
        foreach (var link in _links.Values)
            link.Tick(now);
    }

    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return default;
        _poller.Stop();   // blocks until the loop has left; what follows runs inline on this thread
        _thread.Join();
        foreach (var link in _links.Values)
            link.Close();
        _router.Close();
        _poller.Remove(_housekeeping);
        _poller.Remove(_wake);
        _wake.Dispose();
        _poller.Dispose();
        _inbox.Close();
        Log.Stopped(_options.Logger, _options.LocalId);
        return default;
    }

    public override string ToString() => $"NetMQ peer {_options.LocalId} on {_router.Endpoint}";
}
