using Microsoft.Extensions.Logging;

namespace Zk.Server;

/// <summary>Log messages of the zk program. Ids 9000-9099; event names are contract.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 9000, EventName = "PeerRunning", Level = LogLevel.Information,
        Message = "Peer running: dataDir={DataDir}, tickTime={TickMs} ms, session timeout {MinMs}..{MaxMs} ms, {Nodes} znodes, zxid 0x{Zxid:x}. Ctrl+C stops it.")]
    public static partial void Running(ILogger logger, string dataDir, double tickMs, double minMs, double maxMs, int nodes, long zxid);

    [LoggerMessage(EventId = 9001, EventName = "ClientPortOpen", Level = LogLevel.Information,
        Message = "ZooKeeper clients can connect to {EndPoint} (e.g. zkCli.sh -server {EndPoint})")]
    public static partial void ClientPort(ILogger logger, string endPoint);

    [LoggerMessage(EventId = 9002, EventName = "PeerStopping", Level = LogLevel.Information, Message = "Stopping at zxid 0x{Zxid:x}")]
    public static partial void Stopping(ILogger logger, long zxid);

    [LoggerMessage(EventId = 9003, EventName = "PeerStopped", Level = LogLevel.Information, Message = "Stopped cleanly.")]
    public static partial void Stopped(ILogger logger);

    [LoggerMessage(EventId = 9004, EventName = "MemberStarting", Level = LogLevel.Information,
        Message = "Server {Id} of {Count} ({Role}) joins the ensemble over NetMQ on {QuorumAddress}, {Authentication}")]
    public static partial void MemberStarting(ILogger logger, int id, int count, string role, string quorumAddress, string authentication);

    [LoggerMessage(EventId = 9005, EventName = "ModeChanged", Level = LogLevel.Information, Message = "Mode: {Mode} (leader: server {Leader})")]
    public static partial void ModeChanged(ILogger logger, Zk.Embedded.PeerMode mode, int leader);

    [LoggerMessage(EventId = 9006, EventName = "LookingForLeader", Level = LogLevel.Information, Message = "Mode: Looking (no leader: clients are refused until one is elected)")]
    public static partial void Looking(ILogger logger);
}
