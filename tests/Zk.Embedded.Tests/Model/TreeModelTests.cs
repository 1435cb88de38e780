using System.Text.RegularExpressions;
using CsCheck;
using Xunit.Abstractions;
using Zk.Embedded.Api;

namespace Zk.Embedded.Tests.Model;

internal enum ModelOpKind
{
    Create,
    Delete,
    SetData,
    SetAcl,
    Check,
    Exists,
    GetData,
    GetChildren,
    Multi,
    Burst,
    Close,
}

/// <summary>
/// One generated op, kept abstract so it stays meaningful when CsCheck shrinks the sequence around it:
/// <see cref="Session"/> and <see cref="Path"/> are taken modulo the live sessions and the paths at hand when it runs;
/// <see cref="Version"/> is 0 for -1 (any), 1 for the node's version, 2 for a wrong one; <see cref="Data"/> is the
/// data length, -1 for null; <see cref="Mode"/> is a <see cref="CreateMode"/> (persistent, ephemeral, and their
/// sequential forms).
/// </summary>
internal sealed record ModelStep(ModelOpKind Kind, int Session, int Path, int Version, int Data, int Mode, bool Watch, ModelStep[] Sub)
{
    public override string ToString() => Kind switch
    {
        ModelOpKind.Multi or ModelOpKind.Burst => $"{Kind}[{string.Join(", ", Sub.Select(s => s.ToString()))}]@s{Session}",
        ModelOpKind.Close => $"Close@s{Session}",
        _ => $"{Kind}(p{Path},v{Version},d{Data},m{Mode}{(Watch ? ",watch" : "")})@s{Session}",
    };
}

internal sealed record Scenario(int Sessions, ModelStep[] Steps)
{
    public override string ToString() => $"{Sessions} sessions, {Steps.Length} steps: {string.Join(" ", Steps.Select(s => s.ToString()))}";
}

/// <summary>
/// Random op sequences over 2-3 sessions and a small path space, run against a real peer and a reference model of
/// ZooKeeper's data tree (<see cref="ZkTreeModel"/>), compared after every op. Replay a failure with ZK_SEED set to
/// the printed seed; ZK_MODEL_ITER sets the number of scenarios (default 1000).
/// </summary>
public sealed class TreeModelTests(ITestOutputHelper output)
{
    private static readonly Gen<ModelStep> SubOp = Gen.Select(
        Gen.FrequencyConst((4, ModelOpKind.Create), (3, ModelOpKind.Delete), (3, ModelOpKind.SetData), (2, ModelOpKind.Check)),
        Gen.Int[0, 63],
        Gen.Int[0, 2],
        Gen.Int[-1, 3],
        Gen.Int[0, 3],
        (kind, path, version, data, mode) => new ModelStep(kind, 0, path, version, data, mode, false, []));

    private static readonly Gen<ModelStep> BurstOp = Gen.Select(
        Gen.FrequencyConst(
            (4, ModelOpKind.Create), (2, ModelOpKind.Delete), (3, ModelOpKind.SetData), (1, ModelOpKind.SetAcl),
            (2, ModelOpKind.Exists), (2, ModelOpKind.GetData), (2, ModelOpKind.GetChildren)),
        Gen.Int[0, 63],
        Gen.Int[0, 2],
        Gen.Int[-1, 3],
        Gen.Int[0, 3],
        Gen.Bool,
        (kind, path, version, data, mode, watch) => new ModelStep(kind, 0, path, version, data, mode, watch, []));

    private static readonly Gen<ModelStep> Step = Gen.Select(
        Gen.FrequencyConst(
            (24, ModelOpKind.Create), (10, ModelOpKind.Delete), (12, ModelOpKind.SetData), (4, ModelOpKind.SetAcl), (10, ModelOpKind.Exists),
            (10, ModelOpKind.GetData), (10, ModelOpKind.GetChildren), (14, ModelOpKind.Multi), (8, ModelOpKind.Burst), (3, ModelOpKind.Close)),
        Gen.Int[0, 2],
        Gen.Int[0, 63],
        Gen.Int[0, 2],
        Gen.Int[-1, 3],
        Gen.Int[0, 3],
        Gen.Bool,
        Gen.Select(SubOp.Array[1, 3], BurstOp.Array[2, 5]),
        (kind, session, path, version, data, mode, watch, subs) =>
            new ModelStep(kind, session, path, version, data, mode, watch, kind switch
            {
                ModelOpKind.Multi => subs.Item1,
                ModelOpKind.Burst => subs.Item2,
                _ => [],
            }));

    private static readonly Gen<Scenario> Scenarios = Gen.Select(Gen.Int[2, 3], Step.Array[1, 80], (sessions, steps) => new Scenario(sessions, steps));

    [Fact]
    public async Task Random_op_sequences_over_several_sessions_match_the_reference_model()
    {
        var seed = Environment.GetEnvironmentVariable("ZK_SEED");
        var iterations = int.TryParse(Environment.GetEnvironmentVariable("ZK_MODEL_ITER"), out var n) ? n : 1000;
        output.WriteLine(seed is null ? "seed=(random, printed on failure)" : $"seed={seed} (from ZK_SEED)");
        try
        {
            await Scenarios.SampleAsync(ModelScenarioRunner.RunAsync, writeLine: output.WriteLine, seed: seed, iter: iterations, print: s => s.ToString());
        }
        catch (Exception e)
        {
            var failing = Regex.Match(e.Message, "seed[^\"]*\"([^\"]+)\"", RegexOptions.IgnoreCase) is { Success: true } m ? m.Groups[1].Value : seed ?? "unknown";
            output.WriteLine($"seed={failing} (set ZK_SEED to replay)");
            throw new Xunit.Sdk.XunitException($"seed={failing} (set ZK_SEED to replay)\n{e}");
        }
    }

    [Fact]
    public async Task A_sequential_name_counts_creates_while_the_reported_cversion_counts_creates_and_deletes()
    {
        // The example of ZK-NOTES: p-0000000000, p-0000000001, then x created and deleted: cversion 4, next suffix 3.
        var steps = new[]
        {
            new ModelStep(ModelOpKind.Create, 0, 0, 0, 1, (int)CreateMode.Persistent, false, []),
            new ModelStep(ModelOpKind.Create, 0, 0, 0, 1, (int)CreateMode.PersistentSequential, false, []),
            new ModelStep(ModelOpKind.Create, 0, 0, 0, 1, (int)CreateMode.PersistentSequential, false, []),
            new ModelStep(ModelOpKind.Create, 0, 2, 0, 1, (int)CreateMode.Persistent, false, []),
            new ModelStep(ModelOpKind.Delete, 1, 2, 0, 1, 0, false, []),
            new ModelStep(ModelOpKind.GetChildren, 1, 0, 0, 1, 0, true, []),
            new ModelStep(ModelOpKind.Create, 0, 0, 0, 1, (int)CreateMode.EphemeralSequential, false, []),
            new ModelStep(ModelOpKind.Close, 0, 0, 0, 0, 0, false, []),
        };
        await ModelScenarioRunner.RunAsync(new Scenario(2, steps));
    }


    [Fact]
    public async Task Watches_set_by_reads_queued_behind_writes_fire_in_trigger_order_before_the_write_reply()
    {
        // ZooKeeper serves a session's requests in order: getChildren(/p) and exists(/p/n) register their watches
        // before create(/p/n) applies, so its events come in DataTree order (NodeCreated, then NodeChildrenChanged
        // of the parent) and before the create's reply. Failed writes in front make the reads wait their turn.
        await using var peer = await ZkPeer.StartAsync(new ZkPeerOptions());
        await using var zk = await peer.ConnectAsync();
        var events = new EventLog();
        for (var round = 0; round < 200; round++)
        {
            var parent = $"/p{round}";
            await zk.CreateAsync(parent, null, Acl.OpenUnsafe, CreateMode.Persistent);
            var first = events.Count;
            var failedSet = zk.SetDataAsync(parent + "/missing", null).AsTask();
            var children = zk.GetChildrenAsync(parent, events.Add).AsTask();
            var failedDelete = zk.DeleteAsync(parent + "/missing").AsTask();
            var exists = zk.ExistsAsync(parent + "/n", events.Add).AsTask();
            var create = zk.CreateAsync(parent + "/n", null, Acl.OpenUnsafe, CreateMode.Persistent).AsTask();
            await create;
            var atReply = events.Snapshot()[first..];
            await Task.WhenAll(children, exists);
            await Assert.ThrowsAsync<ZkException>(() => failedSet);
            await Assert.ThrowsAsync<ZkException>(() => failedDelete);
            ModelEvent[] expected = [new(EventType.NodeCreated, parent + "/n"), new(EventType.NodeChildrenChanged, parent)];
            Assert.True(
                atReply.SequenceEqual(expected),
                $"round {round}: expected [{string.Join(", ", expected)}] before the create's reply, had [{string.Join(", ", atReply)}]");
        }
    }
}
