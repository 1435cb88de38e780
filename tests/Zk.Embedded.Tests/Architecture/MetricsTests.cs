using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Zk.Embedded.Api;
using Zk.Embedded.Tests.Storage;

namespace Zk.Embedded.Tests.Architecture;

/// <summary>The meter "Zk.Embedded" counts what a peer does; dashboards and mntr read these names.</summary>
public sealed class MetricsTests
{
    [Fact]
    public async Task Requests_txns_log_syncs_and_znodes_are_measured()
    {
        var seen = new ConcurrentDictionary<string, double>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == Telemetry.MeterName)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((i, v, _, _) => seen.AddOrUpdate(i.Name, v, (_, old) => old + v));
        listener.SetMeasurementEventCallback<int>((i, v, _, _) => seen.AddOrUpdate(i.Name, v, (_, old) => old + v));
        listener.SetMeasurementEventCallback<double>((i, v, _, _) => seen.AddOrUpdate(i.Name, 1, (_, old) => old + 1));
        listener.Start();

        using var dir = new TempDirectory();
        await using (var peer = await ZkPeer.StartAsync(new ZkPeerOptions { DataDir = dir.Path }))
        {
            await using var zk = await peer.ConnectAsync();
            await zk.CreateAsync("/m", [1], Acl.OpenUnsafe, CreateMode.Persistent);
            await zk.GetDataAsync("/m");
            listener.RecordObservableInstruments();
        }

        foreach (var name in new[] { "zk.requests", "zk.write.duration", "zk.txn.committed", "zk.txn.batch.size", "zk.txn.log.syncs", "zk.txn.log.sync.duration", "zk.znodes", "zk.sessions.active" })
        {
            Assert.True(seen.TryGetValue(name, out var value) && value > 0, $"expected measurements of {name}; saw [{string.Join(", ", seen.Keys.Order())}]");
        }
    }
}
