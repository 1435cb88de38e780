namespace Zk.Testing.Simulation;

/// <summary>
/// The faults that last a while, beside crashes and drops: partitions (a peer cut off both ways, or one direction of
/// one pair: A hears B, B does not hear A), paused peers (a long GC: no ticks, no messages, no fsync completions, then
/// everything at once), clocks that stall or jump (a peer's ticks arrive late or in a burst) and slow disks (fsync
/// completions rarely come). The scheduler asks it what holds; every fault is counted by kind for <see cref="SimTotals"/>.
/// </summary>
internal sealed class SimFaults(Random random, int peers)
{
    private readonly HashSet<(int From, int To)> _oneWay = [];
    private readonly SortedDictionary<int, Pause> _paused = [];
    private readonly SortedDictionary<int, long> _slowUntil = [];
    private readonly SortedDictionary<int, (int Left, int Held)> _stalled = [];
    private long _isolatedUntil;

    /// <summary>How many of each fault were injected (the keys are printed as they are).</summary>
    public SortedDictionary<string, int> Counts { get; } = [];

    /// <summary>A peer cut off from every other, or 0.</summary>
    public int Isolated { get; private set; }

    /// <summary>Is a message from <paramref name="from"/> to <paramref name="to"/> lost on the way?</summary>
    public bool Cuts(int from, int to) => (Isolated != 0 && (from == Isolated || to == Isolated)) || _oneWay.Contains((from, to));

    public bool IsPaused(int peer) => _paused.ContainsKey(peer);

    public bool IsSlow(int peer) => _slowUntil.ContainsKey(peer);

    public bool AnySlow => _slowUntil.Count > 0;

    public void Count(string kind, int n = 1) => Counts[kind] = Counts.GetValueOrDefault(kind) + n;

    /// <summary>Isolates a peer or cuts one direction of a pair; returns the trace line.</summary>
    public string Partition(bool oneWay)
    {
        var a = 1 + random.Next(peers);
        if (!oneWay || random.Next(2) == 0)
        {
            if (_isolatedUntil != 0)
                return $"isolate {a} (not done: {Isolated} is cut off until step {_isolatedUntil})";
            Isolated = a;
            Count("partition");
            return $"isolate {a}";
        }
        var b = 1 + (a + random.Next(peers - 1)) % peers;   // any other peer
        _oneWay.Add((a, b));
        Count("one-way partition");
        return $"cut {a}->{b} ({b} no longer hears {a}, {a} still hears {b})";
    }

    /// <summary>Cuts <paramref name="peer"/> off from every other until step <paramref name="until"/>: a heal before then leaves it cut off.</summary>
    public void Isolate(int peer, long until)
    {
        Isolated = peer;
        _isolatedUntil = until;
        Count("partition");
    }

    public void Heal()
    {
        if (_isolatedUntil == 0)
            Isolated = 0;
        _oneWay.Clear();
    }

    /// <summary>Pauses a peer (a GC) until <paramref name="until"/>.</summary>
    public void PauseUntil(int peer, long until)
    {
        _paused[peer] = new Pause(until);
        Count("pause");
    }

    /// <summary>A tick fell while the peer was paused: it will see it late, in the burst at resume.</summary>
    public void MissTick(int peer) => _paused[peer].MissedTicks++;

    /// <summary>Ends the pauses due by <paramref name="step"/> (every pause when <paramref name="step"/> is long.MaxValue); returns (peer, missed ticks).</summary>
    public List<(int Peer, int MissedTicks)> Resume(long step)
    {
        var due = new List<(int, int)>();
        foreach (var (peer, pause) in _paused)
        {
            if (pause.Until <= step)
                due.Add((peer, pause.MissedTicks));
        }
        foreach (var (peer, _) in due)
            _paused.Remove(peer);
        return due;
    }

    /// <summary>A crashed peer is no longer paused nor late.</summary>
    public void Forget(int peer)
    {
        _paused.Remove(peer);
        _stalled.Remove(peer);
    }

    /// <summary>The peer's clock stalls: its next <paramref name="ticks"/> ticks are held back, then arrive in one burst.</summary>
    public void Stall(int peer, int ticks)
    {
        _stalled[peer] = (ticks, 0);
        Count("clock stall");
    }

    /// <summary>How many ticks reach the peer at this tick: none while its clock stalls, then all the held ones at once.</summary>
    public int TicksNow(int peer)
    {
        if (!_stalled.TryGetValue(peer, out var stall))
            return 1;
        if (stall.Left > 1)
        {
            _stalled[peer] = (stall.Left - 1, stall.Held + 1);
            return 0;
        }
        _stalled.Remove(peer);
        return stall.Held + 1;
    }

    public void SlowUntil(int peer, long until)
    {
        _slowUntil[peer] = until;
        Count("slow disk");
    }

    /// <summary>Ends slow disks due by <paramref name="step"/>.</summary>
    public void Expire(long step)
    {
        if (_isolatedUntil != 0 && _isolatedUntil <= step)
            (Isolated, _isolatedUntil) = (0, 0);
        foreach (var peer in _slowUntil.Where(p => p.Value <= step).Select(p => p.Key).ToList())
            _slowUntil.Remove(peer);
    }

    /// <summary>Everything back to normal for the quiet phase (the paused peers come back through <see cref="Resume"/>).</summary>
    public void EndAll()
    {
        _isolatedUntil = 0;
        Heal();
        _slowUntil.Clear();
        _stalled.Clear();
    }

    private sealed class Pause(long until)
    {
        public long Until { get; } = until;
        public int MissedTicks { get; set; }
    }
}
