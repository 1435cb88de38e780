using System.Net;
using System.Net.Sockets;
using System.Text;
using Zk.Embedded.Api;
using Zk.Embedded.Tests.Wire;
using Zk.Embedded.Tree;
using Zk.Embedded.Wire.Jute;

namespace Zk.Embedded.Tests.Storage;

/// <summary>
/// One client of the crash test. It owns the subtree <c>/c{n}</c> and writes to nothing else, over the wire, with
/// several requests in flight: creates of fresh paths, setData and deletes, each carrying a value never used before.
/// It keeps every write it sent, in order, and how many were acknowledged (replies are FIFO, so that is a prefix).
/// Because one session's writes get increasing zxids and the log is a prefix of the zxid order, the writes that
/// survive a crash are also a prefix: at least the acknowledged ones, at most the ones sent. <see cref="Resolve"/>
/// finds that prefix in a recovered tree, or says which acknowledged write is missing.
/// </summary>
internal sealed class CrashWriter(int number)
{
    private readonly List<Write> _writes = [];
    private Dictionary<string, byte[]> _durable = new(StringComparer.Ordinal);
    private int _durableCount;
    private int _acked;
    private int _roundStart;
    private long _nextName;
    private long _nextValue;

    private enum Kind
    {
        Create,
        SetData,
        Delete,
    }

    public string Root { get; } = "/c" + number;

    /// <summary>Starts counting a new round: what it sends, acknowledges and keeps.</summary>
    public void BeginRound() => _roundStart = _writes.Count;

    /// <summary>Writes acknowledged in all rounds (each counted once).</summary>
    public int AckedTotal { get; private set; }

    /// <summary>Writes acknowledged in the current round.</summary>
    public int AckedThisRound => _acked - _roundStart;

    /// <summary>Writes sent in the current round.</summary>
    public int SentThisRound => _writes.Count - _roundStart;

    /// <summary>What went wrong before the kill (a refused write, a lost connection), or null.</summary>
    public string? Failure { get; private set; }

    /// <summary>Paths the current round wrote to (to read back from the restarted peer), surviving or not.</summary>
    public IEnumerable<string> PathsThisRound => _writes.Skip(_roundStart).Select(w => w.Path).Distinct(StringComparer.Ordinal);

    /// <summary>
    /// Opens a session and writes until the connection dies. Before <paramref name="killed"/> says so, a dead
    /// connection or any error reply is a failure. <paramref name="acked"/> is called once per acknowledged write.
    /// It keeps sending after the kill was decided, so writes are in flight when the process dies.
    /// </summary>
    public void Run(IPEndPoint endPoint, int sessionTimeoutMs, Random random, int window, Action acked, Func<bool> killed)
    {
        var view = new Dictionary<string, byte[]>(_durable, StringComparer.Ordinal);
        var children = view.Keys.Where(p => p != Root).ToList();
        var inFlight = new Queue<(int Xid, int Index)>();
        RawWireClient? client = null;
        try
        {
            (client, _) = RawWireClient.ConnectAsync(endPoint, sessionTimeoutMs).GetAwaiter().GetResult();
            var xid = 0;
            while (true)
            {
                while (inFlight.Count < window)
                {
                    var write = Next(random, view, children);
                    inFlight.Enqueue((++xid, _writes.Count));
                    _writes.Add(write);
                    Send(client, xid, write);
                }

                var (header, _) = client.ReceiveReply();
                var (expectedXid, index) = inFlight.Dequeue();
                if (header.Xid != expectedXid || header.Err != ZkErrorCode.Ok)
                {
                    Failure = $"{Root}: write #{index} ({_writes[index]}) got xid {header.Xid} err {header.Err}, expected xid {expectedXid} Ok";
                    return;
                }

                _acked = index + 1;
                AckedTotal++;
                acked();
            }
        }
        catch (Exception e) when (e is SocketException or InvalidOperationException or IOException)
        {
            if (!killed())
            {
                Failure = $"{Root}: the connection failed before the kill: {e.Message}";
            }
        }
        finally
        {
            client?.Dispose();
        }
    }

    /// <summary>
    /// Finds how many of this client's writes the recovered tree holds: the k in [acknowledged, sent] for which the
    /// first k writes give exactly the recovered subtree. Returns null and keeps the model when none does (the
    /// failure says what is missing); otherwise forgets the writes that did not survive and continues from k.
    /// </summary>
    public string? Resolve(TreeState recovered, out int survived)
    {
        var actual = Subtree(recovered);
        var model = new Dictionary<string, byte[]>(_durable, StringComparer.Ordinal);
        for (var i = _durableCount; i < _acked; i++)
        {
            Apply(model, _writes[i]);
        }

        var atAcked = new Dictionary<string, byte[]>(model, StringComparer.Ordinal);
        for (var k = _acked; k <= _writes.Count; k++)
        {
            if (k > _acked)
            {
                Apply(model, _writes[k - 1]);
            }

            if (Same(model, actual))
            {
                survived = k - _roundStart;
                _writes.RemoveRange(k, _writes.Count - k);
                _durable = model;
                _durableCount = _acked = k;
                return null;
            }
        }

        survived = -1;
        return $"{Root}: the recovered subtree is no prefix of the writes between the {_acked} acknowledged and the {_writes.Count} sent. "
            + $"Against the acknowledged state: {Describe(atAcked, actual)}";
    }

    private static void Send(RawWireClient client, int xid, Write write)
    {
        switch (write.Kind)
        {
            case Kind.Create:
                client.SendRequest(xid, OpCode.Create, new CreateRequest(write.Path, write.Data, Acl.OpenUnsafe, (int)CreateMode.Persistent));
                break;
            case Kind.SetData:
                client.SendRequest(xid, OpCode.SetData, new SetDataRequest(write.Path, write.Data, -1));
                break;
            default:
                client.SendRequest(xid, OpCode.Delete, new DeleteRequest(write.Path, -1));
                break;
        }
    }

    /// <summary>The next write against the view of everything sent so far; every one of them must succeed.</summary>
    private Write Next(Random random, Dictionary<string, byte[]> view, List<string> children)
    {
        var value = Encoding.UTF8.GetBytes($"{Root}:{_nextValue++}");
        Write write;
        var roll = random.NextDouble();
        if (!view.ContainsKey(Root))
        {
            write = new Write(Kind.Create, Root, value);
        }
        else if (children.Count < 8 || roll < 0.45)
        {
            write = new Write(Kind.Create, $"{Root}/n{_nextName++}", value);
            children.Add(write.Path);
        }
        else if (roll < 0.85)
        {
            var target = random.Next(10) == 0 ? Root : children[random.Next(children.Count)];
            write = new Write(Kind.SetData, target, value);
        }
        else
        {
            var at = random.Next(children.Count);
            write = new Write(Kind.Delete, children[at], null);
            children[at] = children[^1];
            children.RemoveAt(children.Count - 1);
        }

        Apply(view, write);
        return write;
    }

    private static void Apply(Dictionary<string, byte[]> state, Write write)
    {
        if (write.Kind == Kind.Delete)
        {
            state.Remove(write.Path);
        }
        else
        {
            state[write.Path] = write.Data!;
        }
    }

    private Dictionary<string, byte[]> Subtree(TreeState state)
    {
        var nodes = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        if (state.Find(Root) is not { } root)
        {
            return nodes;
        }

        nodes[Root] = root.Data ?? [];
        foreach (var name in root.Children.Names())
        {
            nodes[Root + "/" + name] = root.Children.Find(name)!.Data ?? [];
        }

        return nodes;
    }

    private static bool Same(Dictionary<string, byte[]> expected, Dictionary<string, byte[]> actual)
    {
        if (expected.Count != actual.Count)
        {
            return false;
        }

        foreach (var (path, data) in expected)
        {
            if (!actual.TryGetValue(path, out var other) || !data.AsSpan().SequenceEqual(other))
            {
                return false;
            }
        }

        return true;
    }

    private static string Describe(Dictionary<string, byte[]> expected, Dictionary<string, byte[]> actual)
    {
        var text = new StringBuilder();
        foreach (var (path, data) in expected)
        {
            if (!actual.TryGetValue(path, out var other))
            {
                text.Append($"{path} (value '{Encoding.UTF8.GetString(data)}') is missing; ");
            }
            else if (!data.AsSpan().SequenceEqual(other))
            {
                text.Append($"{path} has '{Encoding.UTF8.GetString(other)}', acknowledged '{Encoding.UTF8.GetString(data)}'; ");
            }
        }

        foreach (var path in actual.Keys.Where(p => !expected.ContainsKey(p)))
        {
            text.Append($"{path} exists ('{Encoding.UTF8.GetString(actual[path])}') but no acknowledged write leaves it; ");
        }

        return text.ToString();
    }

    private sealed record Write(Kind Kind, string Path, byte[]? Data)
    {
        public override string ToString() => Data is null ? $"{Kind} {Path}" : $"{Kind} {Path} = '{Encoding.UTF8.GetString(Data)}'";
    }
}
