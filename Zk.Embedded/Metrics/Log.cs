using Microsoft.Extensions.Logging;

namespace Zk.Embedded.Metrics;

/// <summary>Log messages of the metrics endpoint. Ids 6000-6099; event names are contract.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 6000, EventName = "MetricsEndpointOpen", Level = LogLevel.Information,
        Message = "Prometheus metrics at http://{EndPoint}/metrics")]
    public static partial void EndpointOpen(ILogger logger, System.Net.EndPoint endPoint);

    [LoggerMessage(EventId = 6001, EventName = "MetricsRequestFailed", Level = LogLevel.Debug,
        Message = "A metrics request from {Remote} failed")]
    public static partial void RequestFailed(ILogger logger, System.Net.EndPoint? remote, Exception reason);
}
