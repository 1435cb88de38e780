using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Zk.Embedded.Api;

namespace Zk.Embedded.Hosting;

/// <summary>Health checks for the host's peer and client.</summary>
public static class ZooKeeperHealthCheckExtensions
{
    /// <summary>
    /// Adds a check of the hosted peer: healthy while it serves, unhealthy before it started and once it stopped
    /// serving writes (<see cref="ZkPeer.Faulted"/>: the host should restart it). An ensemble member is healthy only
    /// while it is in a quorum (it leads or follows an established leader): a member that is looking for a leader
    /// refuses clients, so it is unhealthy until it joins one.
    /// </summary>
    public static IHealthChecksBuilder AddZooKeeperPeer(this IHealthChecksBuilder builder, string name = "zookeeper-peer", IEnumerable<string>? tags = null) =>
        builder.Add(new HealthCheckRegistration(name, sp => new PeerHealthCheck(sp.GetRequiredService<ZooKeeperPeerService>()), HealthStatus.Unhealthy, tags));

    /// <summary>Adds a check of the wire client: healthy when connected, degraded while it reconnects, unhealthy when its session ended.</summary>
    public static IHealthChecksBuilder AddZooKeeperClient(this IHealthChecksBuilder builder, string name = "zookeeper-client", IEnumerable<string>? tags = null) =>
        builder.Add(new HealthCheckRegistration(name, sp => new ClientHealthCheck(sp.GetRequiredService<ZooKeeperClientService>()), HealthStatus.Unhealthy, tags));

    private sealed class PeerHealthCheck(ZooKeeperPeerService service) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            if (service.Peer is not { } peer)
            {
                return Task.FromResult(HealthCheckResult.Unhealthy("The peer has not started."));
            }

            if (peer.Faulted.IsCompleted)
            {
                var fault = peer.Faulted.Result;
                return Task.FromResult(HealthCheckResult.Unhealthy($"The peer stopped serving writes: {fault.Message}", fault));
            }

            var data = new Dictionary<string, object>
            {
                ["mode"] = peer.Mode.ToString(),
                ["zxid"] = $"0x{peer.LastZxid:x}",
                ["znodes"] = peer.NodeCount,
                ["sessions"] = peer.SessionCount,
            };
            if (peer.LeaderId is { } leader)
            {
                data["leader"] = leader;
            }

            if (peer.ClientEndPoint is { } endPoint)
            {
                data["clientPort"] = endPoint.ToString();
            }

            // Mode alone can lag a lost quorum by a tick; IsServing is what clients meet.
            if (peer.Mode == PeerMode.Looking || !peer.IsServing)
            {
                return Task.FromResult(HealthCheckResult.Unhealthy("The member is not in a quorum: it is looking for a leader and refuses clients.", data: data));
            }

            return Task.FromResult(HealthCheckResult.Healthy("Serving.", data));
        }
    }

    private sealed class ClientHealthCheck(ZooKeeperClientService service) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
            Task.FromResult(service.Client?.State switch
            {
                SessionState.Connected or SessionState.ConnectedReadOnly => HealthCheckResult.Healthy("Connected."),
                SessionState.Connecting => HealthCheckResult.Degraded("Reconnecting."),
                null => HealthCheckResult.Unhealthy("Not connected yet."),
                { } state => HealthCheckResult.Unhealthy($"The session ended: {state}."),
            });
    }
}
