using Zk.Embedded.Api;

namespace Zk.Embedded;

/// <summary>
/// How a peer runs. Defaults are ZooKeeper's (zoo.cfg names in the remarks of each); <see cref="Validate"/> runs
/// once at start and names the setting that is wrong.
/// </summary>
public sealed record ZkPeerOptions
{
    /// <summary>
    /// dataDir: where the peer keeps snapshots (and the txn log, unless <see cref="DataLogDir"/> is set). Null keeps
    /// everything in memory: nothing survives the process, which is what tests and caches want. The <c>zk</c> program
    /// uses ./zkdata.
    /// </summary>
    public string? DataDir { get; init; }

    /// <summary>dataLogDir: where the txn log goes; null means <see cref="DataDir"/>. A separate disk keeps fsyncs fast.</summary>
    public string? DataLogDir { get; init; }

    /// <summary>forceSync: fsync the txn log before acknowledging a write (ZooKeeper's default). Off trades durability for speed.</summary>
    public bool ForceSync { get; init; } = true;

    /// <summary>snapCount: txns between snapshots (randomised per peer between half and all of it, as ZooKeeper does).</summary>
    public int SnapCount { get; init; } = 100_000;

    /// <summary>autopurge.snapRetainCount: snapshots kept when purging; at least 3.</summary>
    public int SnapRetainCount { get; init; } = 3;

    /// <summary>autopurge.purgeInterval: how often old snapshots and the txns they cover are deleted; zero (ZooKeeper's default) never.</summary>
    public TimeSpan PurgeInterval { get; init; }

    /// <summary>tickTime: the unit of ZooKeeper's timing (session timeouts are 2..20 ticks by default).</summary>
    public TimeSpan TickTime { get; init; } = TimeSpan.FromMilliseconds(3000);

    /// <summary>minSessionTimeout; null means 2 × <see cref="TickTime"/>.</summary>
    public TimeSpan? MinSessionTimeout { get; init; }

    /// <summary>maxSessionTimeout; null means 20 × <see cref="TickTime"/>.</summary>
    public TimeSpan? MaxSessionTimeout { get; init; }

    /// <summary>jute.maxbuffer: the largest znode data, in bytes.</summary>
    public int MaxDataBytes { get; init; } = 0xfffff;

    /// <summary>zookeeper.extendedTypesEnabled: allows TTL nodes.</summary>
    public bool ExtendedTypesEnabled { get; init; }

    /// <summary>znode.container.checkIntervalMs: how often empty containers and expired TTL nodes are removed.</summary>
    public TimeSpan ContainerCheckInterval { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// zookeeper.DigestAuthenticationProvider.superDigest: "super:base64(sha1("super:password"))". A session that
    /// authenticates with the matching digest passes every ACL check.
    /// </summary>
    public string? SuperDigest { get; init; }

    /// <summary>myid: goes into session ids, so peers of one ensemble never issue the same id.</summary>
    public long ServerId { get; init; }

    /// <summary>clientPort: the TCP port ZooKeeper clients connect to; null opens none (embedded use only). 0 picks a free port.</summary>
    public int? ClientPort { get; init; }

    /// <summary>clientPortAddress: the address the client port binds.</summary>
    public string ClientPortAddress { get; init; } = "127.0.0.1";

    /// <summary>maxClientCnxns: connections allowed from one client address; 0 means no limit.</summary>
    public int MaxClientConnections { get; init; } = 60;

    /// <summary>
    /// globalOutstandingLimit (ZooKeeper's zookeeper.globalOutstandingLimit): when more client requests than this are
    /// outstanding on the client port, every connection with a request of its own outstanding stops reading until
    /// its replies have been written. So a client that sends without reading stops being read.
    /// </summary>
    public int GlobalOutstandingLimit { get; init; } = 1000;

    /// <summary>
    /// nio.sessionlessCnxnTimeout (ZooKeeper's zookeeper.nio.sessionlessCnxnTimeout): a connection that has not
    /// established a session within this long is closed.
    /// </summary>
    public TimeSpan SessionlessConnectionTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>4lw.commands.whitelist: comma-separated four-letter words that run, "*" for all; srvr always runs.</summary>
    public string? FourLetterWordWhitelist { get; init; }

    /// <summary>The clock for session expiry, timers and znode times; tests pass a fake one.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    internal TimeSpan EffectiveMinSessionTimeout => MinSessionTimeout ?? TickTime * 2;

    internal TimeSpan EffectiveMaxSessionTimeout => MaxSessionTimeout ?? TickTime * 20;

    /// <summary>Makes this peer a member of a replicated ensemble; null (the default) runs it standalone.</summary>
    public EnsembleOptions? Ensemble { get; init; }

    /// <summary>Checks the options; throws <see cref="ArgumentException"/> naming the setting.</summary>
    public void Validate()
    {
        Ensemble?.Validate(ServerId);
        Require(DataDir is null || DataDir.Trim().Length > 0, nameof(DataDir), "dataDir must be a path, or null for in-memory");
        Require(DataLogDir is null || DataDir is not null, nameof(DataLogDir), "dataLogDir needs a dataDir");
        Require(SnapCount >= 2, nameof(SnapCount), "snapCount must be at least 2");
        Require(SnapRetainCount >= 3, nameof(SnapRetainCount), "autopurge.snapRetainCount must be at least 3");
        Require(PurgeInterval >= TimeSpan.Zero, nameof(PurgeInterval), "autopurge.purgeInterval must not be negative");
        Require(TickTime > TimeSpan.Zero, nameof(TickTime), "tickTime must be positive");
        Require(EffectiveMinSessionTimeout > TimeSpan.Zero, nameof(MinSessionTimeout), "minSessionTimeout must be positive");
        Require(EffectiveMaxSessionTimeout >= EffectiveMinSessionTimeout, nameof(MaxSessionTimeout), "maxSessionTimeout must not be below minSessionTimeout");
        Require(MaxDataBytes > 0, nameof(MaxDataBytes), "jute.maxbuffer must be positive");
        Require(ContainerCheckInterval > TimeSpan.Zero, nameof(ContainerCheckInterval), "znode.container.checkIntervalMs must be positive");
        Require(ServerId is >= 0 and <= 254, nameof(ServerId), "myid must be 0..254 (ZooKeeper's limit with extended types)");
        Require(SuperDigest is null || SuperDigest.Split(':').Length == 2, nameof(SuperDigest), "superDigest must look like user:base64hash");
        Require(Time is not null, nameof(Time), "a time provider is required");
        Require(ClientPort is null or (>= 0 and <= 65535), nameof(ClientPort), "clientPort must be 0..65535");
        Require(System.Net.IPAddress.TryParse(ClientPortAddress, out _), nameof(ClientPortAddress), "clientPortAddress must be an IP address");
        Require(GlobalOutstandingLimit > 0, nameof(GlobalOutstandingLimit), "globalOutstandingLimit must be positive");
        Require(SessionlessConnectionTimeout > TimeSpan.Zero, nameof(SessionlessConnectionTimeout), "nio.sessionlessCnxnTimeout must be positive");
        Require(MaxClientConnections >= 0, nameof(MaxClientConnections), "maxClientCnxns must not be negative");
    }

    private static void Require(bool condition, string name, string message)
    {
        if (!condition)
        {
            throw new ArgumentException($"{message}.", name);
        }
    }
}

/// <summary>How a session is opened.</summary>
public sealed record ZkSessionOptions
{
    /// <summary>The timeout asked for; the peer clamps it to [minSessionTimeout, maxSessionTimeout].</summary>
    public TimeSpan SessionTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Hears session state changes (SyncConnected, Expired, Closed) and every event of a watch set with no watcher of its own.</summary>
    public Watcher? DefaultWatcher { get; init; }

    /// <summary>To re-attach a live session: its id (with <see cref="SessionPassword"/>).</summary>
    public long? SessionId { get; init; }

    public ReadOnlyMemory<byte> SessionPassword { get; init; }

    /// <summary>
    /// To re-attach: the old handle's <see cref="IZooKeeper.LastZxidSeen"/>. An ensemble member that has not applied
    /// that zxid yet refuses with ConnectionLoss (retry, or try another member), as ZooKeeper refuses a client that has
    /// seen a newer zxid than the server; 0 checks nothing.
    /// </summary>
    public long LastZxidSeen { get; init; }
}
