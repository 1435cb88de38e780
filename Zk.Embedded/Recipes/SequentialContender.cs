using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Zk.Embedded.Api;

namespace Zk.Embedded.Recipes;

/// <summary>The child a contender at <paramref name="ourIndex"/> of <paramref name="sorted"/> waits for; null when it holds.</summary>
internal delegate string? TurnRule(List<string> sorted, int ourIndex);

/// <summary>
/// Curator's <c>LockInternals</c> with the <c>StandardLockInternalsDriver</c>: a protected ephemeral-sequential node
/// <c>_c_&lt;uuid&gt;-&lt;name&gt;&lt;seq&gt;</c> under the base path; children ordered by what follows the last
/// <c>&lt;name&gt;</c> in each (the sequence suffix); the node holds when fewer than <c>maxLeases</c> come before
/// it; otherwise it watches only the child <c>maxLeases</c> places ahead (no herd effect) with getData (which, unlike
/// exists, leaves no watch behind on a node already gone) and looks again when that watch fires.
/// </summary>
internal sealed class SequentialContender
{
    private readonly IZooKeeper _zk;
    private readonly string _name;
    private readonly string[] _sortNames;
    private readonly TurnRule _rule;
    private readonly ILogger _logger;

    /// <summary>A contender of Curator's standard driver: it holds when fewer than <paramref name="maxLeases"/> come before it.</summary>
    public SequentialContender(IZooKeeper zk, string basePath, string name, int maxLeases, ILogger? logger = null)
        : this(zk, basePath, name, [name], (sorted, ours) => ours < maxLeases ? null : sorted[ours - maxLeases], logger)
    {
    }

    /// <summary>
    /// A contender whose children sort by what follows the last of each of <paramref name="sortNames"/> in turn
    /// (Curator's <c>SortingLockInternalsDriver</c>), and whose turn <paramref name="rule"/> decides.
    /// </summary>
    public SequentialContender(IZooKeeper zk, string basePath, string name, string[] sortNames, TurnRule rule, ILogger? logger = null)
    {
        _logger = logger ?? NullLogger.Instance;
        _zk = zk;
        BasePath = basePath;
        _name = name;
        _sortNames = sortNames;
        _rule = rule;
    }

    public string BasePath { get; }

    /// <summary>
    /// Creates this contender's node and waits until it holds. Returns the node, or null when <paramref name="timeout"/>
    /// passed first. On timeout, cancellation or any failure the node is deleted before this returns.
    /// </summary>
    public async ValueTask<CreateResult?> AcquireAsync(byte[]? data, TimeSpan? timeout, CancellationToken cancellationToken)
    {
        using var deadline = timeout is { } span ? new CancellationTokenSource(span) : null;
        using var linked = deadline is null ? null : CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        var token = linked?.Token ?? cancellationToken;
        CreateResult? ours = null;
        var holds = false;
        try
        {
            ours = await ProtectedCreate.CreateAsync(_zk, BasePath, _name, data, CreateMode.EphemeralSequential, token).ConfigureAwait(false);
            await WaitForTurnAsync(ours.Path, token).ConfigureAwait(false);
            holds = true;
            return ours;
        }
        catch (OperationCanceledException) when (deadline?.IsCancellationRequested == true && !cancellationToken.IsCancellationRequested)
        {
            return null;
        }
        finally
        {
            if (!holds && ours is not null)
            {
                await DeleteQuietlyAsync(_zk, ours.Path, _logger).ConfigureAwait(false);
            }
        }
    }

    /// <summary>The children of the base path in lock order (Curator's <c>getSortedChildren</c>).</summary>
    public async ValueTask<List<string>> SortedChildrenAsync(CancellationToken cancellationToken)
    {
        var children = await SessionRetry.RunAsync(_zk, BasePath, static (z, p, ct) => z.GetChildrenAsync(p, null, ct), cancellationToken, _logger).ConfigureAwait(false);
        return Sort(children, _sortNames);
    }

    /// <summary>Orders names by what follows the last <paramref name="lockName"/> (the whole name when absent), ordinally, as Curator's comparator does.</summary>
    public static List<string> Sort(IEnumerable<string> children, string lockName) => Sort(children, [lockName]);

    /// <summary>Orders names by Curator's <c>fixForSorting</c> applied for each of <paramref name="lockNames"/> in turn, ordinally and stably.</summary>
    public static List<string> Sort(IEnumerable<string> children, string[] lockNames)
    {
        var sorted = new List<string>(children);
        // A stable sort, as Java's Collections.sort, for names with equal keys (only children that are not contenders).
        var keyed = sorted.Select((child, index) => (Key: SortKey(child, lockNames), Index: index, Child: child)).ToList();
        keyed.Sort(static (a, b) => string.CompareOrdinal(a.Key, b.Key) is var c && c != 0 ? c : a.Index.CompareTo(b.Index));
        for (var i = 0; i < keyed.Count; i++)
        {
            sorted[i] = keyed[i].Child;
        }

        return sorted;
    }

    private static string SortKey(string child, string[] lockNames)
    {
        foreach (var lockName in lockNames)
        {
            child = SortKey(child, lockName);
        }

        return child;
    }

    /// <summary>Curator's <c>StandardLockInternalsDriver.fixForSorting</c>.</summary>
    public static string SortKey(string child, string lockName)
    {
        var index = child.LastIndexOf(lockName, StringComparison.Ordinal);
        return index < 0 ? child : child[(index + lockName.Length)..];
    }

    /// <summary>Deletes a node, riding out ConnectionLoss until the session ends (then the ephemeral is gone anyway).</summary>
    public static async ValueTask DeleteQuietlyAsync(IZooKeeper zk, string path, ILogger logger)
    {
        // Bounded: past twice the session timeout without a connection the peer has expired the session.
        using var bound = new CancellationTokenSource(zk.SessionTimeout * 2 + TimeSpan.FromSeconds(1));
        try
        {
            await SessionRetry.RunAsync(zk, path, static async (z, p, ct) =>
            {
                await z.DeleteAsync(p, -1, ct).ConfigureAwait(false);
                return true;
            }, bound.Token, logger).ConfigureAwait(false);
        }
        catch (ZkException e) when (e.Code is ZkErrorCode.NoNode or ZkErrorCode.SessionExpired)
        {
            // Gone already, or with its session.
        }
        catch (OperationCanceledException)
        {
            // No connection for longer than the session can live: the peer deletes it with the session.
            Log.NodeLeftBehind(logger, path);
        }
    }

    private async ValueTask WaitForTurnAsync(string ourPath, CancellationToken cancellationToken)
    {
        var ourName = ZkPaths.NameOf(ourPath);
        while (true)
        {
            var children = await SortedChildrenAsync(cancellationToken).ConfigureAwait(false);
            var ourIndex = children.IndexOf(ourName);
            if (ourIndex < 0)
            {
                // Curator's validateOurIndex: our node is gone, deleted by someone or with an expired session.
                throw new ZkException(ZkErrorCode.NoNode, ourPath, $"Sequential path not found: {ourPath} (deleted while waiting, or its session ended)");
            }

            if (_rule(children, ourIndex) is not { } ahead)
            {
                return;
            }

            await WaitForDeleteAsync(ZkPaths.Join(BasePath, ahead), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Returns once <paramref name="path"/> changed or is gone, or the session's state changed (the caller looks again).</summary>
    private async ValueTask WaitForDeleteAsync(string path, CancellationToken cancellationToken)
    {
        using var wait = new OneShotWait(_zk, _logger);
        try
        {
            await SessionRetry.RunAsync(_zk, (path, wait.Watcher), static (z, s, ct) => z.GetDataAsync(s.path, s.Watcher, ct), cancellationToken, _logger).ConfigureAwait(false);
        }
        catch (ZkException e) when (e.Code == ZkErrorCode.NoNode)
        {
            return; // Released between getChildren and getData: look again.
        }

        await wait.WaitAsync(path, WatcherType.Data, cancellationToken).ConfigureAwait(false);
    }
}
