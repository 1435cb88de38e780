using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Zk.Embedded.Processing;
using Zk.Embedded.Sessions;
using Zk.Embedded.Watches;

namespace Zk.Embedded;

/// <summary>The parts of a running peer that sessions use. Internal: users see <see cref="ZkPeer"/>.</summary>
internal sealed class PeerCore(RequestProcessor processor, WatchManager watches, SessionTracker sessions, TimeProvider time, ILogger logger, int maxDataBytes)
{
    public RequestProcessor Processor { get; } = processor;

    public WatchManager Watches { get; } = watches;

    public SessionTracker Sessions { get; } = sessions;

    public TimeProvider Time { get; } = time;

    public ILogger Logger { get; } = logger;

    /// <summary>The largest znode data (jute.maxbuffer).</summary>
    public int MaxDataBytes { get; } = maxDataBytes;

    /// <summary>The in-process handle each live session is attached to, for re-attach and shutdown.</summary>
    public ConcurrentDictionary<long, InProcessSession> Attached { get; } = new();
}
