using Zk.Embedded.Transport;

namespace Zk.Embedded.Tests.Transport.NetMq;

/// <summary>
/// The transport contract on <see cref="Zk.Transport.NetMQ.NetMqTransport"/>: real NetMQ sockets on loopback TCP,
/// members authenticated by a shared secret. Alone in its collection: one case measures the process's memory.
/// </summary>
[Collection(nameof(InMemoryTransportContractTests))]
public sealed class NetMqTransportContractTests : TransportContractTests<NetMqCluster>
{
    protected override NetMqCluster CreateCluster(TransportLimits limits) => new(limits);
}
