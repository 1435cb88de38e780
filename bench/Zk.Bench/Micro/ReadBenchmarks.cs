using BenchmarkDotNet.Attributes;
using Zk.Embedded.Api;
using Zk.Embedded.Processing;
using Zk.Embedded.Tree;

namespace Zk.Bench.Micro;

/// <summary>
/// Reads through the in-process session (they complete on the caller's thread), against the tree alone: the
/// difference is what the session layer costs per read.
/// </summary>
[MemoryDiagnoser]
public class ReadBenchmarks
{
    private static readonly IReadOnlyList<Id> LocalIds = [new Id("ip", "127.0.0.1")];
    private BenchPeer _bench = null!;
    private TreeState _state = null!;

    [GlobalSetup]
    public void Setup()
    {
        _bench = BenchPeer.StartAsync().GetAwaiter().GetResult();
        _state = _bench.Peer.Core.Pipeline.State;
    }

    [GlobalCleanup]
    public void Cleanup() => _bench.DisposeAsync().AsTask().GetAwaiter().GetResult();

    [Benchmark(Baseline = true, Description = "Tree: TreeState.Find")]
    public object? TreeFind() => _state.Find(BenchPeer.DataPath);

    [Benchmark(Description = "Tree: Reads.GetData + ToStat (path check, ACL)")]
    public Stat TreeGetDataChecked()
    {
        Reads.GetData(_state, BenchPeer.DataPath, LocalIds, out var node);
        return node!.ToStat();
    }

    /// <summary>Every session read adds to this tagged counter; measured alone to see its share of a read.</summary>
    [Benchmark(Description = "Telemetry: zk.requests Add with op tag")]
    public void TelemetryRequestsAdd() => Zk.Embedded.Telemetry.Requests.Add(1, new KeyValuePair<string, object?>("op", "getData"));

    [Benchmark(Description = "Session: GetDataAsync 1 KiB")]
    public DataResult GetData() => BenchPeer.Completed(_bench.Session.GetDataAsync(BenchPeer.DataPath));

    [Benchmark(Description = "Session: ExistsAsync")]
    public Stat? Exists() => BenchPeer.Completed(_bench.Session.ExistsAsync(BenchPeer.DataPath));

    [Benchmark(Description = "Session: GetChildrenAsync 10k children")]
    public IReadOnlyList<string> GetChildren() => BenchPeer.Completed(_bench.Session.GetChildrenAsync(BenchPeer.WidePath));
}
