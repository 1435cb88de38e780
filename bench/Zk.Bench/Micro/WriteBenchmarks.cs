using BenchmarkDotNet.Attributes;
using Zk.Embedded.Txns;
using Zk.Embedded.Api;
using Zk.Embedded.Processing;
using Zk.Embedded.Sessions;
using Zk.Embedded.Tree;

namespace Zk.Bench.Micro;

/// <summary>
/// Writes through the in-process session, one at a time (so this is latency: submit, pipeline thread, outbox,
/// continuation), against the same change made to the tree alone, without the pipeline.
/// </summary>
[MemoryDiagnoser]
public class WriteBenchmarks
{
    private BenchPeer _bench = null!;
    private TreeState _state = null!;
    private Txn _setDataTxn = null!;
    private Txn _setDataWideTxn = null!;
    private TxnBuilder _builder = null!;
    private ServerSession _server = null!;
    private SetDataRequest _setDataRequest = null!;

    [GlobalSetup]
    public void Setup()
    {
        _bench = BenchPeer.StartAsync().GetAwaiter().GetResult();
        _state = _bench.Peer.Core.Pipeline.State;
        _setDataTxn = new Txn(new Zxid(_state.Zxid.Value + 1), new SessionId(_bench.Session.SessionId), 1, new SetDataTxn(BenchPeer.DataPath, _bench.Value, 1));
        _setDataWideTxn = new Txn(new Zxid(_state.Zxid.Value + 1), new SessionId(_bench.Session.SessionId), 1, new SetDataTxn(BenchPeer.WidePath + "/c04242", _bench.Value, 1));
        _builder = new TxnBuilder(new AclCache(), new PeerLimits(0xfffff, false, null));
        _bench.Peer.Core.Sessions.TryGet(new SessionId(_bench.Session.SessionId), out _server);
        _setDataRequest = new SetDataRequest(BenchPeer.DataPath, _bench.Value, -1);
    }

    [GlobalCleanup]
    public void Cleanup() => _bench.DisposeAsync().AsTask().GetAwaiter().GetResult();

    [Benchmark(Baseline = true, Description = "Tree: TxnApplier.Apply setData")]
    public object TreeApplySetData() => TxnApplier.Apply(_state, _setDataTxn, triggers: null);

    [Benchmark(Description = "Tree: TxnApplier.Apply setData, 10k siblings")]
    public object TreeApplySetDataWide() => TxnApplier.Apply(_state, _setDataWideTxn, triggers: null);

    [Benchmark(Description = "Tree: TxnBuilder.Prepare + Apply setData")]
    public object TreePrepareApplySetData()
    {
        var prepared = _builder.Prepare(_state, _server, _server.AuthIds, _setDataRequest, new Zxid(_state.Zxid.Value + 1), 1);
        return TxnApplier.Apply(_state, new Txn(new Zxid(_state.Zxid.Value + 1), _server.SessionId, 1, prepared.Op!), triggers: null);
    }

    [Benchmark(Description = "Session: SetDataAsync 1 KiB")]
    public async Task<Stat> SetData() => await _bench.Session.SetDataAsync(BenchPeer.DataPath, _bench.Value).ConfigureAwait(false);

    [Benchmark(Description = "Session: CreateAsync + DeleteAsync")]
    public async Task CreateDelete()
    {
        await _bench.Session.CreateAsync(BenchPeer.ScratchPath, _bench.Value, Acl.OpenUnsafe, CreateMode.Persistent).ConfigureAwait(false);
        await _bench.Session.DeleteAsync(BenchPeer.ScratchPath).ConfigureAwait(false);
    }
}
