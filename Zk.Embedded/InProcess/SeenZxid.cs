using Zk.Embedded.Api;

namespace Zk.Embedded.InProcess;

/// <summary>
/// The newest zxid an in-process session has seen in an answer (a read's state, a write's reply), as ZooKeeper's
/// client keeps the last zxid of its replies: carried to another member on re-attach, which refuses it until it has
/// caught up (<see cref="ZkSessionOptions.LastZxidSeen"/>). Only grows; any thread.
/// </summary>
internal sealed class SeenZxid
{
    private long _value;

    public long Value => Volatile.Read(ref _value);

    public void Saw(Zxid zxid)
    {
        var seen = Volatile.Read(ref _value);
        while (zxid.Value > seen)
        {
            var was = Interlocked.CompareExchange(ref _value, zxid.Value, seen);
            if (was == seen)
                return;
            seen = was;
        }
    }
}
