using System.Diagnostics;
using Microsoft.Extensions.Time.Testing;
using Zk.Embedded.Api;
using Zk.Embedded.Tree;

namespace Zk.Embedded.Tests.Model;

/// <summary>The watch events one session received, in delivery order (session state events left out).</summary>
internal sealed class EventLog
{
    private readonly List<ModelEvent> _events = [];
    private readonly SemaphoreSlim _arrived = new(0);

    public int Count
    {
        get
        {
            lock (_events)
            {
                return _events.Count;
            }
        }
    }

    public void Add(WatchedEvent watchedEvent)
    {
        if (watchedEvent.Type == EventType.None || watchedEvent.Path is null)
        {
            return;
        }

        lock (_events)
        {
            _events.Add(new ModelEvent(watchedEvent.Type, watchedEvent.Path));
        }

        _arrived.Release();
    }

    public ModelEvent[] Snapshot()
    {
        lock (_events)
        {
            return [.. _events];
        }
    }

    /// <summary>Waits until at least <paramref name="count"/> events arrived, or the deadline passes.</summary>
    public async Task WaitForCountAsync(int count, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (Count < count && clock.Elapsed < timeout)
        {
            await _arrived.WaitAsync(timeout - clock.Elapsed).ConfigureAwait(false);
        }
    }
}

/// <summary>A live session of a scenario, with the events it received and the events the model predicts for it.</summary>
internal sealed class SessionSlot(IZooKeeper zk, EventLog log)
{
    public IZooKeeper Zk { get; } = zk;

    public EventLog Log { get; } = log;

    public Watcher Watcher { get; } = log.Add;

    public List<ModelEvent> Expected { get; } = [];

    public long Id => Zk.SessionId;
}

/// <summary>
/// Runs one generated scenario against a fresh peer and the <see cref="ZkTreeModel"/> side by side, comparing after
/// every op: result or error code, stats, sequential names, children, the whole tree, and each session's events.
/// </summary>
internal sealed class ModelScenarioRunner : IAsyncDisposable
{
    private static readonly TimeSpan EventDeadline = TimeSpan.FromSeconds(10);
    private static readonly string[] FixedPaths = ["/a", "/b", "/a/x", "/a/y", "/b/z", "/a/x/w"];
    private static readonly string[] SequentialPrefixes = ["/a/q-", "/b/q-", "/q-", "/a/x/q-"];

    private readonly ZkPeer _peer;
    private readonly List<SessionSlot> _slots = [];
    private readonly ZkTreeModel _model = new();
    private readonly List<string> _trace = [];

    private ModelScenarioRunner(ZkPeer peer) => _peer = peer;

    public static async Task RunAsync(Scenario scenario)
    {
        // A fake clock: no heartbeat, expiry or container timer ever runs, so every txn is one of the scenario's.
        var peer = await ZkPeer.StartAsync(new ZkPeerOptions { Time = new FakeTimeProvider() });
        await using var runner = new ModelScenarioRunner(peer);
        for (var i = 0; i < scenario.Sessions; i++)
        {
            runner._slots.Add(await runner.ConnectAsync());
        }

        for (var i = 0; i < scenario.Steps.Length; i++)
        {
            try
            {
                await runner.StepAsync(i, scenario.Steps[i]);
            }
            catch (Exception e)
            {
                throw new InvalidOperationException($"Diverged from the model at step #{i}: {e.Message}\nTrace:\n{string.Join("\n", runner._trace)}", e);
            }
        }

        await runner.FinalCheckAsync();
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var slot in _slots)
        {
            await slot.Zk.DisposeAsync();
        }

        await _peer.DisposeAsync();
    }

    private async Task<SessionSlot> ConnectAsync()
    {
        var log = new EventLog();
        return new SessionSlot(await _peer.ConnectAsync(), log);
    }

    private async Task StepAsync(int index, ModelStep step)
    {
        var slotIndex = step.Session % _slots.Count;
        var slot = _slots[slotIndex];
        var before = _peer.LastZxid;
        var triggers = new List<ModelEvent>();
        var write = step.Kind is ModelOpKind.Create or ModelOpKind.Delete or ModelOpKind.SetData or ModelOpKind.SetAcl or ModelOpKind.Multi;
        bool succeeded;
        var line = $"#{index} s{slotIndex}(0x{slot.Id:x}) ";
        switch (step.Kind)
        {
            case ModelOpKind.Close:
                _trace.Add(line + "close");
                await slot.Zk.CloseAsync();
                await CheckEventsAsync(slot, orderMatters: true, "before its close");
                _model.CloseSession(slot.Id, _peer.LastZxid, triggers);
                Assert.True(_peer.LastZxid > before, $"close should commit a txn after zxid 0x{before:x}");
                _slots[slotIndex] = await ConnectAsync();
                slot = null;
                succeeded = true;
                break;
            case ModelOpKind.Multi:
                succeeded = await MultiAsync(line, index, slot, step, triggers);
                break;
            default:
                succeeded = await SingleAsync(line, index, slot, step, triggers);
                break;
        }

        if (write && succeeded)
        {
            Assert.True(_peer.LastZxid > before, $"a successful write should commit a txn after zxid 0x{before:x}");
        }

        AssertTreeMatchesModel();
        var fired = _model.Fire(triggers);
        foreach (var other in _slots)
        {
            other.Expected.AddRange(fired.GetValueOrDefault(other.Id) ?? []);
        }

        if (write && slot is not null)
        {
            // The session's own write: its events reach its watchers before the write's reply.
            Assert.True(
                slot.Log.Count >= slot.Expected.Count,
                $"expected the writer's {slot.Expected.Count} events before its reply, had {slot.Log.Count}: [{string.Join(", ", slot.Log.Snapshot())}]");
        }

        foreach (var other in _slots)
        {
            await CheckEventsAsync(other, orderMatters: step.Kind != ModelOpKind.Close, $"after #{index}");
        }
    }

    private async Task<bool> SingleAsync(string line, int index, SessionSlot slot, ModelStep step, List<ModelEvent> triggers)
    {
        var zk = slot.Zk;
        var watcher = step.Watch ? slot.Watcher : null;
        switch (step.Kind)
        {
            case ModelOpKind.Create:
            {
                var (path, mode, data) = (CreatePath(step), (CreateMode)step.Mode, Data(step, index));
                var (result, code) = await Try(() => zk.CreateWithStatAsync(path, data, Acl.OpenUnsafe, mode).AsTask());
                var expected = _model.Create(slot.Id, path, data, mode, _peer.LastZxid, triggers, out var expectedPath);
                _trace.Add(line + $"create {path} {mode} data={data?.Length.ToString() ?? "null"} -> {result?.Path ?? code.ToString()}");
                AssertCode(expected, code);
                if (expected == ZkErrorCode.Ok)
                {
                    Assert.Equal(expectedPath, result!.Path);
                    AssertStat(expectedPath, result.Stat);
                }

                return expected == ZkErrorCode.Ok;
            }

            case ModelOpKind.Delete:
            {
                var path = Target(step.Path);
                var version = Version(step, path);
                var (_, code) = await Try(async () => { await zk.DeleteAsync(path, version); return true; });
                _trace.Add(line + $"delete {path} v={version} -> {code}");
                var expected = _model.Delete(path, version, _peer.LastZxid, triggers);
                AssertCode(expected, code);
                return expected == ZkErrorCode.Ok;
            }

            case ModelOpKind.SetData:
            {
                var (path, data) = (Target(step.Path), Data(step, index));
                var version = Version(step, path);
                var (stat, code) = await Try(() => zk.SetDataAsync(path, data, version).AsTask());
                _trace.Add(line + $"setData {path} v={version} data={data?.Length.ToString() ?? "null"} -> {code}");
                var expected = _model.SetData(path, data, version, _peer.LastZxid, triggers);
                AssertCode(expected, code);
                if (expected == ZkErrorCode.Ok)
                {
                    AssertStat(path, stat);
                }

                return expected == ZkErrorCode.Ok;
            }

            case ModelOpKind.SetAcl:
            {
                var path = Target(step.Path);
                var current = _model.Nodes.TryGetValue(path, out var node) ? node.Aversion : 0;
                var aversion = step.Version switch { 0 => -1, 1 => current, _ => current + 1 };
                var (stat, code) = await Try(() => zk.SetAclAsync(path, Acl.OpenUnsafe, aversion).AsTask());
                _trace.Add(line + $"setACL {path} aversion={aversion} -> {code}");
                var expected = _model.SetAcl(path, aversion);
                AssertCode(expected, code);
                if (expected == ZkErrorCode.Ok)
                {
                    AssertStat(path, stat);
                }

                return expected == ZkErrorCode.Ok;
            }

            case ModelOpKind.Exists:
            {
                var path = Target(step.Path);
                var stat = await zk.ExistsAsync(path, watcher);
                _trace.Add(line + $"exists {path} watch={step.Watch} -> {(stat is null ? "null" : "stat")}");
                var expected = _model.Exists(slot.Id, path, step.Watch);
                Assert.Equal(expected, stat is { } s ? Project(s) : null);
                return true;
            }

            case ModelOpKind.GetData:
            {
                var path = Target(step.Path);
                var (result, code) = await Try(() => zk.GetDataAsync(path, watcher).AsTask());
                _trace.Add(line + $"getData {path} watch={step.Watch} -> {code}");
                AssertCode(_model.GetData(slot.Id, path, step.Watch, out var node), code);
                if (node is not null)
                {
                    Assert.Equal(node.Data, result.Data.ToArray());
                    Assert.Equal(node.ToStat(), Project(result.Stat));
                }

                return true;
            }

            default:
            {
                var path = Target(step.Path);
                var (result, code) = await Try(() => zk.GetChildrenWithStatAsync(path, watcher).AsTask());
                _trace.Add(line + $"getChildren {path} watch={step.Watch} -> {code}");
                AssertCode(_model.GetChildren(slot.Id, path, step.Watch, out var node), code);
                if (node is not null)
                {
                    Assert.Equal(node.Children, result.Children.Order(StringComparer.Ordinal));
                    Assert.Equal(node.ToStat(), Project(result.Stat));
                }

                return true;
            }
        }
    }

    private async Task<bool> MultiAsync(string line, int index, SessionSlot slot, ModelStep step, List<ModelEvent> triggers)
    {
        var ops = step.Sub.Select(sub => sub.Kind switch
        {
            ModelOpKind.Create => Op.Create(CreatePath(sub), Data(sub, index), Acl.OpenUnsafe, (CreateMode)sub.Mode),
            ModelOpKind.Delete => Op.Delete(Target(sub.Path), Version(sub, Target(sub.Path))),
            ModelOpKind.SetData => Op.SetData(Target(sub.Path), Data(sub, index), Version(sub, Target(sub.Path))),
            _ => Op.Check(Target(sub.Path), Version(sub, Target(sub.Path))),
        }).ToList();
        IReadOnlyList<OpResult>? results = null;
        ZkErrorCode code;
        try
        {
            results = await slot.Zk.MultiAsync(ops);
            code = ZkErrorCode.Ok;
        }
        catch (ZkException e)
        {
            (results, code) = (e.Results, e.Code);
        }

        _trace.Add(line + $"multi [{string.Join("; ", ops)}] -> {code}");
        var expectedCode = _model.Multi(slot.Id, ops, _peer.LastZxid, triggers, out var expected);
        AssertCode(expectedCode, code);
        Assert.True(results is not null && results.Count == ops.Count, $"expected {ops.Count} per-op results, got {results?.Count.ToString() ?? "none"}");
        for (var i = 0; i < ops.Count; i++)
        {
            var want = expected[i];
            switch (results![i])
            {
                case ErrorResult error:
                    Assert.True(expectedCode != ZkErrorCode.Ok && error.Code == want.Code, $"op {i}: expected {want.Code} in a multi that gives {expectedCode}, got ErrorResult({error.Code})");
                    break;
                case CreateResult create:
                    Assert.Equal(want.Path, create.Path);
                    Assert.Equal(want.Stat, Project(create.Stat));
                    break;
                case SetDataResult set:
                    Assert.Equal(want.Stat, Project(set.Stat));
                    break;
                case var other:
                    Assert.True(expectedCode == ZkErrorCode.Ok && other is (DeleteResult or CheckResult), $"op {i}: unexpected result {other}");
                    break;
            }
        }

        return expectedCode == ZkErrorCode.Ok;
    }

    private async Task FinalCheckAsync()
    {
        foreach (var slot in _slots)
        {
            // A read is answered after every event queued before it, so nothing predicted or unpredicted is still in flight.
            await slot.Zk.ExistsAsync("/");
            Assert.Equal(slot.Expected, slot.Log.Snapshot());
        }
    }

    private static async Task CheckEventsAsync(SessionSlot slot, bool orderMatters, string when)
    {
        await slot.Log.WaitForCountAsync(slot.Expected.Count, EventDeadline);
        var actual = slot.Log.Snapshot();
        if (!orderMatters && actual.Length == slot.Expected.Count)
        {
            // The ephemerals of a closed session go in no particular order (ZooKeeper's DataTree.killSession walks a set).
            var expectedSorted = slot.Expected.Order(EventOrder).ToList();
            var actualSorted = actual.Order(EventOrder).ToList();
            if (expectedSorted.SequenceEqual(actualSorted))
            {
                slot.Expected.Clear();
                slot.Expected.AddRange(actual);
            }
        }

        Assert.True(
            actual.SequenceEqual(slot.Expected),
            $"session 0x{slot.Id:x} {when}: expected events [{string.Join(", ", slot.Expected)}], got [{string.Join(", ", actual)}]");
    }

    private static readonly Comparer<ModelEvent> EventOrder = Comparer<ModelEvent>.Create((a, b) =>
        a.Type != b.Type ? a.Type.CompareTo(b.Type) : string.CompareOrdinal(a.Path, b.Path));

    private void AssertTreeMatchesModel()
    {
        var actual = new Dictionary<string, ZNode>(StringComparer.Ordinal);
        Collect(_peer.Core.Processor.State.Root, "/", actual);
        Assert.Equal(_model.Nodes.Keys.Order(StringComparer.Ordinal), actual.Keys.Order(StringComparer.Ordinal));
        foreach (var (path, node) in _model.Nodes)
        {
            Assert.True(node.ToStat() == Project(actual[path].ToStat()), $"{path}: expected stat {node.ToStat()}, tree has {Project(actual[path].ToStat())}");
            Assert.True(node.Data.AsSpan().SequenceEqual(actual[path].Data ?? []), $"{path}: expected data of {node.Data.Length} bytes, tree has {actual[path].Data?.Length ?? 0}");
        }
    }

    private static void Collect(ZNode node, string path, Dictionary<string, ZNode> into)
    {
        into[path] = node;
        foreach (var name in node.Children.Names())
        {
            if (path == "/" && name == "zookeeper")
            {
                continue;
            }

            Collect(node.Children.Find(name)!, path == "/" ? "/" + name : path + "/" + name, into);
        }
    }

    private void AssertStat(string path, Stat actual) =>
        Assert.True(_model.Nodes[path].ToStat() == Project(actual), $"{path}: expected returned stat {_model.Nodes[path].ToStat()}, got {Project(actual)}");

    private static void AssertCode(ZkErrorCode expected, ZkErrorCode actual) =>
        Assert.True(expected == actual, $"expected {expected}, got {actual}");

    private static Stat Project(Stat stat) => stat with { Ctime = 0, Mtime = 0 };

    private static async Task<(T? Value, ZkErrorCode Code)> Try<T>(Func<Task<T>> call)
    {
        try
        {
            return (await call(), ZkErrorCode.Ok);
        }
        catch (ZkException e)
        {
            return (default, e.Code);
        }
    }

    private string Target(int index)
    {
        var sequential = _model.Nodes.Keys.Where(p => ZkTreeModel.Name(p).StartsWith("q-", StringComparison.Ordinal)).Order(StringComparer.Ordinal);
        var targets = FixedPaths.Append("/").Concat(sequential).ToList();
        return targets[index % targets.Count];
    }

    private static string CreatePath(ModelStep step) =>
        ((CreateMode)step.Mode).IsSequential() ? SequentialPrefixes[step.Path % SequentialPrefixes.Length] : FixedPaths[step.Path % FixedPaths.Length];

    private int Version(ModelStep step, string path)
    {
        var current = _model.Nodes.TryGetValue(path, out var node) ? node.Version : 0;
        return step.Version switch { 0 => -1, 1 => current, _ => current + 1 };
    }

    private static byte[]? Data(ModelStep step, int index) => step.Data < 0 ? null : Enumerable.Repeat((byte)index, step.Data).ToArray();
}
