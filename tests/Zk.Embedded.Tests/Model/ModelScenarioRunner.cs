using Microsoft.Extensions.Time.Testing;
using Zk.Embedded.Api;
using Zk.Embedded.Tree;

namespace Zk.Embedded.Tests.Model;

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
                _model.CloseSession(slot.Id, _peer.LastZxid, triggers);
                // The closing session hears its own ephemerals go before the close reply (ZooKeeper sends them on
                // the connection before answering closeSession); every other session hears them too.
                var closeEvents = _model.Fire(triggers);
                triggers.Clear();
                ExpectEvents(closeEvents);
                _model.ForgetSession(slot.Id);
                await CheckEventsAsync(slot, orderMatters: !closeEvents.ContainsKey(slot.Id), "by its close");
                Assert.True(_peer.LastZxid > before, $"close should commit a txn after zxid 0x{before:x}");
                _slots[slotIndex] = await ConnectAsync();
                slot = null;
                succeeded = true;
                break;
            case ModelOpKind.Multi:
                succeeded = await MultiAsync(line, index, slot, step, triggers);
                break;
            case ModelOpKind.Burst:
                succeeded = await BurstAsync(line, index, slot, step, triggers);
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
        ExpectEvents(_model.Fire(triggers));

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

    private void ExpectEvents(Dictionary<long, List<ModelEvent>> fired)
    {
        foreach (var slot in _slots)
        {
            slot.Expected.AddRange(fired.GetValueOrDefault(slot.Id) ?? []);
        }
    }

    private async Task<bool> SingleAsync(string line, int index, SessionSlot slot, ModelStep step, List<ModelEvent> triggers)
    {
        var pending = Issue(slot, step, index);
        var outcome = await pending.Call;
        _trace.Add(line + pending.Describe(outcome));
        return pending.Check(outcome, _peer.LastZxid, triggers);
    }

    /// <summary>
    /// Several ops of one session issued back to back without awaiting, then awaited: per-session FIFO means each
    /// result is what the model gives applying them in issue order. Only the documented difference from ZooKeeper
    /// lets the model know each write's zxid here: a failed write takes no zxid (docs/zookeeper-differences.md).
    /// </summary>
    private async Task<bool> BurstAsync(string line, int index, SessionSlot slot, ModelStep step, List<ModelEvent> triggers)
    {
        var before = _peer.LastZxid;
        var pending = step.Sub.Select(sub => Issue(slot, sub, index)).ToList();
        var outcomes = new List<(object? Value, ZkErrorCode Code)>();
        foreach (var op in pending)
        {
            outcomes.Add(await op.Call);
        }

        var zxid = before;
        var writes = 0;
        for (var i = 0; i < pending.Count; i++)
        {
            _trace.Add(line + $"burst[{i}] " + pending[i].Describe(outcomes[i]));
            var isWrite = step.Sub[i].Kind is ModelOpKind.Create or ModelOpKind.Delete or ModelOpKind.SetData or ModelOpKind.SetAcl;
            var opTriggers = new List<ModelEvent>();
            if (pending[i].Check(outcomes[i], zxid + 1, opTriggers) && isWrite)
            {
                zxid++;
                writes++;
            }

            // Fired op by op: a watch set by a later read of the burst must not see an earlier write's change.
            ExpectEvents(_model.Fire(opTriggers));
        }

        Assert.True(_peer.LastZxid == zxid, $"expected {writes} successful writes to end at zxid 0x{zxid:x}, peer is at 0x{_peer.LastZxid:x}");
        return true;
    }

    private sealed record PendingOp(
        Task<(object? Value, ZkErrorCode Code)> Call,
        Func<(object? Value, ZkErrorCode Code), string> Describe,
        Func<(object? Value, ZkErrorCode Code), long, List<ModelEvent>, bool> Check);

    /// <summary>Starts one op with its arguments resolved against the model now; its check applies it to the model later.</summary>
    private PendingOp Issue(SessionSlot slot, ModelStep step, int index)
    {
        var zk = slot.Zk;
        var watch = step.Watch;
        var watcher = watch ? slot.Watcher : null;
        switch (step.Kind)
        {
            case ModelOpKind.Create:
            {
                var (path, mode, data) = (CreatePath(step), (CreateMode)step.Mode, Data(step, index));
                return new PendingOp(
                    Try(() => zk.CreateWithStatAsync(path, data, Acl.OpenUnsafe, mode)),
                    o => $"create {path} {mode} data={data?.Length.ToString() ?? "null"} -> {(o.Value as CreateResult)?.Path ?? o.Code.ToString()}",
                    (o, zxid, triggers) =>
                    {
                        var expected = _model.Create(slot.Id, path, data, mode, zxid, triggers, out var expectedPath);
                        AssertCode(expected, o.Code);
                        if (expected == ZkErrorCode.Ok)
                        {
                            Assert.Equal(expectedPath, ((CreateResult)o.Value!).Path);
                            AssertStat(expectedPath, ((CreateResult)o.Value!).Stat);
                        }

                        return expected == ZkErrorCode.Ok;
                    });
            }

            case ModelOpKind.Delete:
            {
                var path = Target(step.Path);
                var version = Version(step, path);
                return new PendingOp(
                    Try(async () => { await zk.DeleteAsync(path, version); return true; }),
                    o => $"delete {path} v={version} -> {o.Code}",
                    (o, zxid, triggers) => Expect(_model.Delete(path, version, zxid, triggers), o.Code));
            }

            case ModelOpKind.SetData:
            {
                var (path, data) = (Target(step.Path), Data(step, index));
                var version = Version(step, path);
                return new PendingOp(
                    Try(() => zk.SetDataAsync(path, data, version)),
                    o => $"setData {path} v={version} data={data?.Length.ToString() ?? "null"} -> {o.Code}",
                    (o, zxid, triggers) => Expect(_model.SetData(path, data, version, zxid, triggers), o.Code) && AssertStat(path, (Stat)o.Value!));
            }

            case ModelOpKind.SetAcl:
            {
                var path = Target(step.Path);
                var current = _model.Nodes.TryGetValue(path, out var node) ? node.Aversion : 0;
                var aversion = step.Version switch { 0 => -1, 1 => current, _ => current + 1 };
                return new PendingOp(
                    Try(() => zk.SetAclAsync(path, Acl.OpenUnsafe, aversion)),
                    o => $"setACL {path} aversion={aversion} -> {o.Code}",
                    (o, _, _) => Expect(_model.SetAcl(path, aversion), o.Code) && AssertStat(path, (Stat)o.Value!));
            }

            case ModelOpKind.Exists:
            {
                var path = Target(step.Path);
                return new PendingOp(
                    Try(() => zk.ExistsAsync(path, watcher)),
                    o => $"exists {path} watch={watch} -> {(o.Value is null ? "null" : "stat")}",
                    (o, _, _) =>
                    {
                        Assert.Equal(_model.Exists(slot.Id, path, watch), o.Value is Stat stat ? Project(stat) : null);
                        return true;
                    });
            }

            case ModelOpKind.GetData:
            {
                var path = Target(step.Path);
                return new PendingOp(
                    Try(() => zk.GetDataAsync(path, watcher)),
                    o => $"getData {path} watch={watch} -> {o.Code}",
                    (o, _, _) =>
                    {
                        AssertCode(_model.GetData(slot.Id, path, watch, out var node), o.Code);
                        if (node is not null)
                        {
                            var result = (DataResult)o.Value!;
                            Assert.Equal(node.Data, result.Data.ToArray());
                            Assert.Equal(node.ToStat(), Project(result.Stat));
                        }

                        return true;
                    });
            }

            default:
            {
                var path = Target(step.Path);
                return new PendingOp(
                    Try(() => zk.GetChildrenWithStatAsync(path, watcher)),
                    o => $"getChildren {path} watch={watch} -> {o.Code}",
                    (o, _, _) =>
                    {
                        AssertCode(_model.GetChildren(slot.Id, path, watch, out var node), o.Code);
                        if (node is not null)
                        {
                            var result = (ChildrenResult)o.Value!;
                            Assert.Equal(node.Children, result.Children.Order(StringComparer.Ordinal));
                            Assert.Equal(node.ToStat(), Project(result.Stat));
                        }

                        return true;
                    });
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
        Collect(_peer.Core.Pipeline.State.Root, "/", actual);
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

    private bool AssertStat(string path, Stat actual)
    {
        Assert.True(_model.Nodes[path].ToStat() == Project(actual), $"{path}: expected returned stat {_model.Nodes[path].ToStat()}, got {Project(actual)}");
        return true;
    }

    private static void AssertCode(ZkErrorCode expected, ZkErrorCode actual) =>
        Assert.True(expected == actual, $"expected {expected}, got {actual}");

    private static Stat Project(Stat stat) => stat with { Ctime = 0, Mtime = 0 };

    /// <summary>Starts the call now (so a burst really pipelines) and captures its value or error code.</summary>
    private static Task<(object? Value, ZkErrorCode Code)> Try<T>(Func<ValueTask<T>> call)
    {
        ValueTask<T> started;
        try
        {
            started = call();
        }
        catch (ZkException e)
        {
            return Task.FromResult<(object?, ZkErrorCode)>((null, e.Code));
        }

        return Await(started);

        static async Task<(object? Value, ZkErrorCode Code)> Await(ValueTask<T> pending)
        {
            try
            {
                return (await pending, ZkErrorCode.Ok);
            }
            catch (ZkException e)
            {
                return (null, e.Code);
            }
        }
    }

    private static bool Expect(ZkErrorCode expected, ZkErrorCode actual)
    {
        AssertCode(expected, actual);
        return expected == ZkErrorCode.Ok;
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
