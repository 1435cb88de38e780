using Zk.Embedded.Transport;

namespace Zk.Transport.InMemory;

/// <summary>
/// All peers of an ensemble in one process: each <see cref="Join"/> gives a peer its <see cref="IPeerTransport"/>,
/// and the network moves copies of the bytes between them, keeping the transport contract (per-pair order, bounded
/// queues, connection notices). Faults on demand: partitions of any set of peers, one-way blocks, paused peers,
/// crashes and rejoins, reset connections; and random ones by seed (<see cref="LinkFaults"/>: loss, delay, and,
/// beyond the contract, duplicates). Thread-safe: one lock guards everything, since ensembles are small.
/// </summary>
public sealed class InMemoryNetwork : IAsyncDisposable
{
    private readonly Lock _gate = new();
    private readonly InMemoryNetworkOptions _options;
    private readonly Random _random;
    private readonly ITimer _timer;
    private readonly SortedDictionary<int, Endpoint> _endpoints = [];
    private readonly SortedDictionary<(int From, int To), Link> _links = [];   // sorted: the seed alone decides order
    private readonly Dictionary<(int From, int To), LinkFaults> _faults = [];
    private readonly List<HashSet<int>> _cuts = [];
    private readonly HashSet<(int From, int To)> _blocked = [];
    private readonly HashSet<int> _paused = [];
    private DateTimeOffset? _armedFor;
    private bool _disposed;

    /// <summary>Creates an empty network.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The options' limits or faults are out of range.</exception>
    public InMemoryNetwork(InMemoryNetworkOptions? options = null)
    {
        _options = options ?? new InMemoryNetworkOptions();
        _options.Limits.Validate();
        _options.Faults.Validate();
        _random = new Random(_options.Seed);
        _timer = _options.Time.CreateTimer(_ => OnTimer(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Messages handed to a receiver's queue.</summary>
    public long Delivered { get; private set; }

    /// <summary>Messages lost on the way: random loss, partitions, blocks, or a peer that crashed with them in flight.</summary>
    public long Lost { get; private set; }

    /// <summary>Messages dropped because a queue was full (a send queue: Send returned false; or the receiver's queue).</summary>
    public long Overflowed { get; private set; }

    /// <summary>The ids of the peers on the network now, ascending.</summary>
    public IReadOnlyList<int> Peers
    {
        get
        {
            lock (_gate)
                return [.. _endpoints.Keys];
        }
    }

    /// <summary>
    /// Puts peer <paramref name="id"/> on the network (at start, or back after <see cref="Crash"/>): it and every
    /// peer already there hear <see cref="TransportEventKind.Connected"/> of each other.
    /// </summary>
    /// <exception cref="InvalidOperationException">Peer <paramref name="id"/> is already on the network.</exception>
    public IPeerTransport Join(int id)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_endpoints.ContainsKey(id))
                throw new InvalidOperationException($"peer {id} is already on the network; crash it (or dispose its transport) before it joins again");
            var endpoint = new Endpoint(this, id, _options.Limits);
            foreach (var (otherId, other) in _endpoints)
            {
                other.Inbox.PostNotice(TransportEvent.Connected(id));
                endpoint.Inbox.PostNotice(TransportEvent.Connected(otherId));
            }
            _endpoints.Add(id, endpoint);
            return endpoint;
        }
    }

    /// <summary>
    /// Crashes peer <paramref name="id"/> as a killed process: its transport is disposed (its queue of received
    /// messages and everything in flight to or from it is lost) and every other peer hears
    /// <see cref="TransportEventKind.Disconnected"/> at once. <see cref="Join"/> brings it back.
    /// </summary>
    public void Crash(int id)
    {
        Endpoint? endpoint;
        lock (_gate)
            _endpoints.TryGetValue(id, out endpoint);
        endpoint?.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    /// <summary>
    /// Cuts the peers in <paramref name="side"/> off from every other peer, both ways, until <see cref="Heal"/>:
    /// what crosses is lost, silently (no notice: a partition looks like a slow network). Call it again for more
    /// groups.
    /// </summary>
    public void Partition(IEnumerable<int> side)
    {
        lock (_gate)
            _cuts.Add([.. side]);
    }

    /// <summary>Loses every message from <paramref name="from"/> to <paramref name="to"/> (one way only) until <see cref="Heal"/>.</summary>
    public void Block(int from, int to)
    {
        lock (_gate)
            _blocked.Add((from, to));
    }

    /// <summary>Removes the partition that <see cref="Partition"/> made with the same <paramref name="side"/> (one of them, if several); others stay.</summary>
    public void HealPartition(IEnumerable<int> side)
    {
        var members = side.ToHashSet();
        lock (_gate)
        {
            var index = _cuts.FindIndex(cut => cut.SetEquals(members));
            if (index >= 0)
                _cuts.RemoveAt(index);
        }
    }

    /// <summary>Removes the one-way block from <paramref name="from"/> to <paramref name="to"/>; other blocks and partitions stay.</summary>
    public void Unblock(int from, int to)
    {
        lock (_gate)
            _blocked.Remove((from, to));
    }

    /// <summary>Removes every partition and block.</summary>
    public void Heal()
    {
        lock (_gate)
        {
            _cuts.Clear();
            _blocked.Clear();
        }
    }

    /// <summary>
    /// Pauses peer <paramref name="id"/> as a stopped process (SIGSTOP, a long GC): nothing reaches it and nothing it
    /// sends leaves; messages wait in their bounded queues, overflow is dropped; no notice. <see cref="Resume"/> lets
    /// them go on.
    /// </summary>
    public void Pause(int id)
    {
        lock (_gate)
            _paused.Add(id);
    }

    /// <summary>Ends <see cref="Pause"/>: whatever waited and is due is delivered now.</summary>
    public void Resume(int id)
    {
        lock (_gate)
        {
            if (_paused.Remove(id))
                PumpAll();
        }
    }

    /// <summary>
    /// Resets the connection between two live peers, as a TCP reset: what is in flight either way is lost, and each
    /// hears the other disconnect and connect again.
    /// </summary>
    public void ResetConnection(int a, int b)
    {
        lock (_gate)
        {
            if (!_endpoints.TryGetValue(a, out var ea) || !_endpoints.TryGetValue(b, out var eb))
                return;
            ClearLink(a, b);
            ClearLink(b, a);
            ea.Inbox.PostNotice(TransportEvent.Disconnected(b));
            eb.Inbox.PostNotice(TransportEvent.Disconnected(a));
            ea.Inbox.PostNotice(TransportEvent.Connected(b));
            eb.Inbox.PostNotice(TransportEvent.Connected(a));
        }
    }

    /// <summary>Sets the random faults of the link from <paramref name="from"/> to <paramref name="to"/> (null: back to the network's).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The faults are out of range.</exception>
    public void SetFaults(int from, int to, LinkFaults? faults)
    {
        faults?.Validate();
        lock (_gate)
        {
            if (faults is null)
                _faults.Remove((from, to));
            else
                _faults[(from, to)] = faults;
        }
    }

    /// <summary>Disposes every peer's transport and stops delivering.</summary>
    public async ValueTask DisposeAsync()
    {
        List<Endpoint> endpoints;
        lock (_gate)
        {
            _disposed = true;
            endpoints = [.. _endpoints.Values];
        }
        foreach (var endpoint in endpoints)
            await endpoint.DisposeAsync().ConfigureAwait(false);
        await _timer.DisposeAsync().ConfigureAwait(false);
    }

    internal bool Send(Endpoint sender, int to, ReadOnlySpan<byte> message)
    {
        lock (_gate)
        {
            if (sender.Disposed || !_endpoints.ContainsKey(to))
                return false;
            var from = sender.LocalId;
            var faults = _faults.GetValueOrDefault((from, to)) ?? _options.Faults;
            if (Cut(from, to) || Chance(faults.DropProbability))
            {
                Lost++;
                return true;   // lost on the way: the sender cannot know
            }
            var link = LinkOf(from, to);
            var due = _options.Time.GetUtcNow() + Delay(faults);
            var payload = PooledPayload.Copy(message);
            if (!link.TryEnqueue(_options.Limits, due, payload))
            {
                payload.Dispose();
                Overflowed++;
                return false;
            }
            if (Chance(faults.DuplicateProbability))
            {
                var copy = PooledPayload.Copy(message);
                if (!link.TryEnqueue(_options.Limits, due, copy))
                    copy.Dispose();
            }
            Pump(link, _options.Time.GetUtcNow());
            return true;
        }
    }

    internal void Remove(Endpoint endpoint)
    {
        lock (_gate)
        {
            var id = endpoint.LocalId;
            if (_endpoints.TryGetValue(id, out var current) && current == endpoint)
            {
                _endpoints.Remove(id);
                foreach (var link in _links.Values)
                {
                    if (link.From == id || link.To == id)
                    {
                        Lost += link.Count;
                        link.Clear();
                    }
                }
                foreach (var other in _endpoints.Values)
                    other.Inbox.PostNotice(TransportEvent.Disconnected(id));
            }
            endpoint.Inbox.Close();
        }
    }

    private void OnTimer()
    {
        lock (_gate)
        {
            _armedFor = null;
            if (!_disposed)
                PumpAll();
        }
    }

    /// <summary>
    /// Delivers every due message, earliest due first across links (ties in link order), so a clock that jumps
    /// interleaves the pairs as their delays say; arms the timer for the first message not yet due.
    /// </summary>
    private void PumpAll()
    {
        var now = _options.Time.GetUtcNow();
        while (true)
        {
            Link? first = null;
            var firstDue = DateTimeOffset.MaxValue;
            foreach (var link in _links.Values)
            {
                if (Held(link) || !link.TryPeekDue(out var due))
                    continue;
                if (due > now)
                    Arm(due, now);
                else if (due < firstDue)
                    (first, firstDue) = (link, due);
            }
            if (first is null)
                return;
            DeliverHead(first);
        }
    }

    /// <summary>Delivers the link's due messages in order; arms the timer for the first one not yet due.</summary>
    private void Pump(Link link, DateTimeOffset now)
    {
        if (Held(link))
            return;
        while (link.TryPeekDue(out var due))
        {
            if (due > now)
            {
                Arm(due, now);
                return;
            }
            DeliverHead(link);
        }
    }

    private void DeliverHead(Link link)
    {
        var payload = link.Dequeue();
        if (Cut(link.From, link.To) || !_endpoints.TryGetValue(link.To, out var receiver))
        {
            Lost++;
            payload.Dispose();
        }
        else if (receiver.Inbox.TryPost(link.From, payload))
        {
            Delivered++;
        }
        else
        {
            Overflowed++;
            payload.Dispose();
        }
    }

    private bool Held(Link link) => _paused.Contains(link.From) || _paused.Contains(link.To);

    private void Arm(DateTimeOffset due, DateTimeOffset now)
    {
        if (_armedFor is { } armed && armed <= due)
            return;
        _armedFor = due;
        _timer.Change(due - now, Timeout.InfiniteTimeSpan);
    }

    private bool Cut(int from, int to)
    {
        if (_blocked.Contains((from, to)))
            return true;
        foreach (var side in _cuts)
        {
            if (side.Contains(from) != side.Contains(to))
                return true;
        }
        return false;
    }

    private Link LinkOf(int from, int to)
    {
        if (!_links.TryGetValue((from, to), out var link))
            _links.Add((from, to), link = new Link(from, to));
        return link;
    }

    private void ClearLink(int from, int to)
    {
        if (_links.TryGetValue((from, to), out var link))
        {
            Lost += link.Count;
            link.Clear();
        }
    }

    private bool Chance(double probability) => probability > 0 && _random.NextDouble() < probability;

    private TimeSpan Delay(LinkFaults faults)
    {
        var spread = faults.MaxDelay - faults.MinDelay;
        return spread <= TimeSpan.Zero ? faults.MinDelay : faults.MinDelay + TimeSpan.FromTicks((long)(_random.NextDouble() * spread.Ticks));
    }
}
