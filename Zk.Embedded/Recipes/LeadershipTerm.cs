using Microsoft.Extensions.Logging;

namespace Zk.Embedded.Recipes;

/// <summary>One stretch of leadership of a <see cref="LeaderLatch"/>, from election to its end.</summary>
public sealed class LeadershipTerm
{
    private readonly CancellationTokenSource _ended = new();

    internal LeadershipTerm(string nodePath, long fencingToken)
    {
        NodePath = nodePath;
        FencingToken = fencingToken;
    }

    /// <summary>The latch node that leads.</summary>
    public string NodePath { get; }

    /// <summary>
    /// The zxid that created the leading latch node. Leaders of one latch path lead in the order their nodes were
    /// created, so a later leader's token is larger (a term that ends on a lost connection and resumes keeps its token:
    /// nobody else led in between). Pass it to every guarded write; the resource refuses tokens below the largest seen.
    /// </summary>
    public long FencingToken { get; }

    /// <summary>Canceled when the term ends: the connection or the session was lost, the node deleted, or the latch disposed.</summary>
    public CancellationToken Ended => _ended.Token;

    internal void End(ILogger logger)
    {
        try
        {
            _ended.Cancel();
        }
        catch (AggregateException e)
        {
            // A callback on the token threw; the term ended all the same.
            Log.CallbackFailed(logger, e, ToString());
        }
    }

    public override string ToString() => $"leadership of {NodePath} (token 0x{FencingToken:x})";
}
