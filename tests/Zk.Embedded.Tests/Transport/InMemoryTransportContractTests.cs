using Zk.Embedded.Transport;
using Zk.Transport.InMemory;

namespace Zk.Embedded.Tests.Transport;

/// <summary>
/// The transport contract on <see cref="InMemoryNetwork"/> in real time (the system clock). Alone in its collection:
/// one case measures the process's memory.
/// </summary>
[Collection(nameof(InMemoryTransportContractTests))]
public sealed class InMemoryTransportContractTests : TransportContractTests<InMemoryTransportContractTests.Cluster>
{
    protected override Cluster CreateCluster(TransportLimits limits) => new(new InMemoryNetwork(new InMemoryNetworkOptions { Limits = limits }));

    [CollectionDefinition(nameof(InMemoryTransportContractTests), DisableParallelization = true)]
    public sealed class Alone;

    public sealed class Cluster(InMemoryNetwork network) : ITransportCluster
    {
        public ValueTask<IPeerTransport> StartAsync(int id) => ValueTask.FromResult(network.Join(id));

        public ValueTask DisposeAsync() => network.DisposeAsync();
    }
}
