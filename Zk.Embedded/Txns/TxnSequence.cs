using Zk.Embedded.Api;

namespace Zk.Embedded.Txns;

/// <summary>
/// A pipeline invariant was broken: publishing on would corrupt the state (or the log), so the peer stops serving
/// writes instead (the pipeline's fault path), in the TigerBeetle manner.
/// </summary>
internal sealed class TxnInvariantException(string message) : InvalidOperationException(message);

/// <summary>The order rules of zxids (ZooKeeper's <c>ZxidUtils</c>): within an epoch the counter goes up by one.</summary>
internal static class TxnSequence
{
    /// <summary>
    /// True when <paramref name="next"/> directly follows <paramref name="previous"/>: the next counter of the same
    /// epoch, or the first txn (counter 1) of a later epoch. A zxid of 0 (nothing yet) is followed by any first txn.
    /// </summary>
    public static bool Follows(Zxid previous, Zxid next)
    {
        if (next.Value == previous.Value + 1 && next.Counter != 0)
        {
            return true;
        }

        return next.Epoch > previous.Epoch && next.Counter == 1;
    }

    /// <summary>Checks that <paramref name="txns"/> follow <paramref name="previous"/> one by one; returns the last zxid.</summary>
    /// <exception cref="TxnInvariantException">a zxid is missing, repeated or out of order.</exception>
    public static Zxid CheckContiguous(IReadOnlyList<Txn> txns, Zxid previous)
    {
        for (var i = 0; i < txns.Count; i++)
        {
            var zxid = txns[i].Zxid;
            if (!Follows(previous, zxid))
            {
                throw new TxnInvariantException(
                    $"A proposed batch is not contiguous: txn {i} has zxid {zxid} after {previous}. The peer stops taking writes rather than log or publish a gap.");
            }

            previous = zxid;
        }

        return previous;
    }
}
