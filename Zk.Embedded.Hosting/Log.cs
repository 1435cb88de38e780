using Microsoft.Extensions.Logging;

namespace Zk.Embedded.Hosting;

/// <summary>Log messages of the hosting layer. Ids 7000-7099; event names are contract.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 7100, EventName = "HostedPeerStarted", Level = LogLevel.Information,
        Message = "ZooKeeper peer started: {Nodes} znodes, zxid 0x{Zxid:x}, client port {ClientPort}")]
    public static partial void PeerStarted(ILogger logger, int nodes, long zxid, System.Net.EndPoint? clientPort);

    [LoggerMessage(EventId = 7101, EventName = "HostedPeerFaulted", Level = LogLevel.Critical,
        Message = "The ZooKeeper peer stopped serving writes; the host must restart it")]
    public static partial void PeerFaulted(ILogger logger, Exception fault);

    [LoggerMessage(EventId = 7102, EventName = "HostedPeerStopped", Level = LogLevel.Information,
        Message = "ZooKeeper peer stopped at zxid 0x{Zxid:x}")]
    public static partial void PeerStopped(ILogger logger, long zxid);

    [LoggerMessage(EventId = 7103, EventName = "HostedClientConnected", Level = LogLevel.Information,
        Message = "ZooKeeper client connected to {ConnectString}, session 0x{SessionId:x}")]
    public static partial void ClientConnected(ILogger logger, string connectString, long sessionId);
}
