using Zk.Embedded.Txns;
using Zk.Embedded.Api;
using Zk.Embedded.Processing;
using Zk.Embedded.Tree;

namespace Zk.Embedded.Tests.Storage;

/// <summary>
/// Generates valid txns of every kind against a state it keeps (creates under existing non-ephemeral parents,
/// deletes of leaves, next versions, live sessions, multis built op by op), applying each as it goes.
/// </summary>
internal sealed class RandomTxns(int seed)
{
    private static readonly AclList Digest = new([new Acl(Perms.All, new Id("digest", "app:hash=")), new Acl(Perms.Read, Id.Anyone)]);
    private readonly Random _random = new(seed);
    private uint _epoch = 1;
    private uint _counter;
    private long _time = 1_700_000_000_000;
    private long _nextSession = 0x1000;

    public TreeState State { get; private set; } = TreeState.CreateInitial();

    public Txn Next()
    {
        if (_random.Next(200) == 0)
        {
            _epoch++; // a new leader: ZooKeeper restarts the counter
            _counter = 0;
        }

        _time += _random.Next(0, 5);
        var zxid = new Zxid(_epoch, ++_counter);
        var session = PickSession();
        TxnOp op = _random.Next(20) switch
        {
            0 => new CreateSessionTxn(_random.Next(4_000, 40_000)),
            1 when session != default => CloseSessionTxn.Instance,
            2 or 3 => Multi(zxid, session),
            _ => SingleOp(State, session),
        };
        if (op is CreateSessionTxn)
        {
            session = new SessionId(_nextSession++);
        }

        var txn = new Txn(zxid, session, _time, op);
        State = TxnApplier.Apply(State, txn, triggers: null);
        return txn;
    }

    private TxnOp Multi(Zxid zxid, SessionId session)
    {
        var ops = new TxnOp[_random.Next(1, 5)];
        var state = State;
        for (var i = 0; i < ops.Length; i++)
        {
            ops[i] = SingleOp(state, session);
            state = TxnApplier.Apply(state, new Txn(zxid, session, _time, ops[i]), triggers: null);
        }

        return new MultiTxn(ops);
    }

    private TxnOp SingleOp(TreeState state, SessionId session)
    {
        var paths = new List<(string Path, ZNode Node)>();
        Walk(state.Root, "/", paths);
        var (path, node) = paths[_random.Next(paths.Count)];
        var user = path != "/" && !path.StartsWith("/zookeeper", StringComparison.Ordinal);
        switch (_random.Next(6))
        {
            case 0 when user && node.Children.Count == 0:
                return new DeleteTxn(path);
            case 1 when user:
                return new SetDataTxn(path, RandomData(), node.Version + 1);
            case 2 when user:
                return new SetAclTxn(path, PickAcl(), node.Aversion + 1);
            case 3:
                return new CheckTxn(path);
            default:
                if (node.OwnerSession != default || path.StartsWith("/zookeeper", StringComparison.Ordinal))
                {
                    return new CheckTxn(path);
                }

                var name = $"n{node.CreateCount:D10}";
                var owner = _random.Next(6) switch
                {
                    0 when session != default => session.Value,
                    1 => ZNode.ContainerOwner,
                    2 => ZNode.TtlMask | (long)(uint)_random.Next(1, 100_000),
                    _ => 0L,
                };
                return new CreateTxn(path == "/" ? "/" + name : path + "/" + name, RandomData(), PickAcl(), owner, node.CreateCount + 1);
        }
    }

    private SessionId PickSession()
    {
        if (State.Sessions.IsEmpty || _random.Next(4) == 0)
        {
            return default;
        }

        var ids = State.Sessions.Keys.OrderBy(id => id.Value).ToArray();
        return ids[_random.Next(ids.Length)];
    }

    private AclList PickAcl() => _random.Next(3) switch { 0 => Digest, 1 => AclList.Read, _ => AclList.Open };

    private byte[]? RandomData()
    {
        var length = _random.Next(-1, 40);
        if (length < 0)
        {
            return null;
        }

        var data = new byte[length];
        _random.NextBytes(data);
        return data;
    }

    private static void Walk(ZNode node, string path, List<(string, ZNode)> into)
    {
        into.Add((path, node));
        var names = node.Children.Names().ToArray();
        Array.Sort(names, StringComparer.Ordinal);
        foreach (var name in names)
        {
            Walk(node.Children.Find(name)!, path == "/" ? "/" + name : path + "/" + name, into);
        }
    }
}
