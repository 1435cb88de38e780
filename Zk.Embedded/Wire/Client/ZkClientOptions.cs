using Microsoft.Extensions.Logging;
using Zk.Embedded.Api;

namespace Zk.Embedded.Wire.Client;

/// <summary>Options of a <see cref="ZkClient"/>; the defaults are those of ZooKeeper's Java client and zkCli.</summary>
public sealed record ZkClientOptions
{
    /// <summary>The session timeout to ask for; the server clamps it to [2, 20] × its tickTime.</summary>
    public TimeSpan SessionTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Hears session state changes (SyncConnected, Disconnected, Expired, Closed, AuthFailed) and any watch event no other watcher claims.</summary>
    public Watcher? DefaultWatcher { get; init; }

    /// <summary>How long <see cref="ZkClient.ConnectAsync"/> tries the servers, round after round, before it gives up with ConnectionLoss.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Largest reply frame accepted (jute.maxbuffer); a larger one drops the connection, which then reconnects.</summary>
    public int MaxFrameBytes { get; init; } = 0xfffff;

    /// <summary>An existing session to re-attach (with <see cref="SessionPassword"/>); null opens a new one.</summary>
    public long? SessionId { get; init; }

    /// <summary>The password of <see cref="SessionId"/>.</summary>
    public ReadOnlyMemory<byte> SessionPassword { get; init; }

    /// <summary>Where the ping and read-timeout clocks come from.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>Logs connects, losses and expiry; none when null.</summary>
    public ILoggerFactory? LoggerFactory { get; init; }

    /// <summary>Checks every option once; the message names the option to fix.</summary>
    public void Validate()
    {
        if (SessionTimeout <= TimeSpan.Zero || SessionTimeout.TotalMilliseconds > int.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(SessionTimeout), SessionTimeout, "SessionTimeout must be positive and fit in an int of milliseconds.");
        }

        if (ConnectTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(ConnectTimeout), ConnectTimeout, "ConnectTimeout must be positive.");
        }

        if (MaxFrameBytes < 1024)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxFrameBytes), MaxFrameBytes, "MaxFrameBytes (jute.maxbuffer) must be at least 1024.");
        }

        if (SessionId is not null && SessionPassword.Length != 16)
        {
            throw new ArgumentException("SessionPassword must be the 16 bytes the server gave the session when SessionId is set.", nameof(SessionPassword));
        }
    }
}
