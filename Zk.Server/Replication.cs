using Microsoft.Extensions.Logging;
using Zk.Embedded;
using Zk.Embedded.Config;
using Zk.Transport.NetMQ;

namespace Zk.Server;

/// <summary><c>zk start</c> with two or more <c>server.N</c> lines: the peer becomes member myid of that ensemble over NetMQ.</summary>
internal static class Replication
{
    /// <summary>The shortest secret the transport takes.</summary>
    private const int MinSecretBytes = 16;

    /// <summary>
    /// Reads the quorum secret before anything starts, so a missing or short file is a config error (exit 2).
    /// Null when authentication is off.
    /// </summary>
    public static byte[]? ReadSecret(ZooCfg cfg)
    {
        if (!cfg.QuorumAuthentication)
            return null;
        var secret = File.ReadAllBytes(cfg.QuorumSecretFile!);
        if (secret.Length < MinSecretBytes)
            throw new FormatException($"quorum.auth.secretFile {cfg.QuorumSecretFile} holds {secret.Length} bytes; it needs at least {MinSecretBytes} (32 random bytes are right).");
        return secret;
    }

    /// <summary>
    /// Starts this member's transport (its quorum port taken fails here, with the address) and returns the options of a
    /// member: myid, the client port of its server line when it has one, voters and observers, initLimit and syncLimit.
    /// </summary>
    public static ZkPeerOptions Join(ZooCfg cfg, ZkPeerOptions options, byte[]? secret, ILoggerFactory loggers, ILogger logger)
    {
        var me = cfg.Servers.Single(s => s.Id == cfg.MyId);
        Log.MemberStarting(logger, me.Id, cfg.Servers.Count, me.Observer ? "observer" : "participant", me.QuorumAddress,
            secret is null ? "authentication off (quorum.auth.enable=false)" : "members authenticated by the shared secret");
        var transport = NetMqTransport.Start(new NetMqTransportOptions
        {
            LocalId = me.Id,
            Members = cfg.Servers.ToDictionary(s => s.Id, s => s.QuorumAddress),
            SharedSecret = secret,
            AllowUnauthenticatedPeers = secret is null,
            Logger = loggers.CreateLogger("Zk.Transport.NetMQ"),
        });
        return options with
        {
            ServerId = me.Id,
            ClientPort = me.ClientPort ?? options.ClientPort,
            ClientPortAddress = me.ClientAddress ?? options.ClientPortAddress,
            Ensemble = new EnsembleOptions
            {
                Voters = [.. cfg.Servers.Where(s => !s.Observer).Select(s => s.Id)],
                Observers = [.. cfg.Servers.Where(s => s.Observer).Select(s => s.Id)],
                Transport = transport,
                InitLimit = cfg.InitLimit,
                SyncLimit = cfg.SyncLimit,
            },
        };
    }

    /// <summary>Logs each mode change as ZooKeeper's servers do (LOOKING, FOLLOWING, LEADING), with the leader's id.</summary>
    public static void LogModes(ZkPeer peer, ILogger logger) =>
        peer.LeadershipChanged += (_, e) =>
        {
            if (e.LeaderId is { } leader)
                Log.ModeChanged(logger, e.Mode, leader);
            else
                Log.Looking(logger);
        };
}
