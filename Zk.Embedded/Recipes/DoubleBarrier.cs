using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Zk.Embedded.Api;

namespace Zk.Embedded.Recipes;

/// <summary>
/// A double barrier (Curator's <c>DistributedDoubleBarrier</c>, the ZooKeeper recipes' double barrier): members enter
/// and wait until <c>memberCount</c> have entered, compute together, then leave and wait until all have left.
/// </summary>
/// <remarks>
/// <para>Protocol (Curator's, node for node): a member is the ephemeral <c>path/&lt;uuid&gt;</c>; the member that sees
/// <c>memberCount</c> children creates <c>path/ready</c>, which every member watches. To leave, the lowest member waits
/// for the highest to go; every other member deletes its node and waits for the lowest to go; the last one out
/// deletes <c>ready</c>.</para>
/// <para>Guarantees: no member leaves <see cref="EnterAsync"/> before <c>memberCount</c> have entered; no member
/// leaves <see cref="LeaveAsync"/> while another member's node still exists. A member that gives up while entering,
/// or is disposed, deletes its node. A member whose session ends leaves with it.</para>
/// <para>Not guaranteed: that exactly <c>memberCount</c> pass (more may enter before <c>ready</c> is seen).</para>
/// </remarks>
public sealed class DoubleBarrier : IAsyncDisposable
{
    /// <summary>Curator's <c>DistributedDoubleBarrier.READY_NODE</c>.</summary>
    internal const string ReadyName = "ready";

    private readonly IZooKeeper _zk;
    private readonly int _memberCount;
    private readonly string _readyPath;
    private readonly ILogger _logger;

    /// <summary>A member of the double barrier at <paramref name="path"/> for <paramref name="memberCount"/> members.</summary>
    public DoubleBarrier(IZooKeeper zk, string path, int memberCount)
        : this(zk, path, memberCount, null)
    {
    }

    /// <summary>A member of the double barrier at <paramref name="path"/> that logs nodes and watches it leaves behind to <paramref name="logger"/>.</summary>
    public DoubleBarrier(IZooKeeper zk, string path, int memberCount, ILogger? logger)
    {
        ArgumentNullException.ThrowIfNull(zk);
        _logger = logger ?? NullLogger.Instance;
        ArgumentOutOfRangeException.ThrowIfLessThan(memberCount, 1);
        _zk = zk;
        _memberCount = memberCount;
        Path = ZkPaths.Validate(path, nameof(path));
        _readyPath = ZkPaths.Join(Path, ReadyName);
        NodePath = ZkPaths.Join(Path, Guid.NewGuid().ToString("D"));
    }

    /// <summary>The barrier's folder.</summary>
    public string Path { get; }

    /// <summary>This member's node.</summary>
    public string NodePath { get; }

    /// <summary>Enters and waits until <c>memberCount</c> members have; on cancellation this member's node is deleted first.</summary>
    public async ValueTask EnterAsync(CancellationToken cancellationToken = default)
    {
        await ZkPaths.CreateParentContainersAsync(_zk, Path, cancellationToken).ConfigureAwait(false);
        await EphemeralNode.CreateAsync(_zk, NodePath, null, cancellationToken).ConfigureAwait(false);
        try
        {
            while (true)
            {
                using var wait = new OneShotWait(_zk, _logger);
                if (await ExistsAsync(_readyPath, wait.Watcher, cancellationToken).ConfigureAwait(false))
                {
                    return;
                }

                var children = await SessionRetry.RunAsync(_zk, Path, static (z, p, ct) => z.GetChildrenAsync(p, null, ct), cancellationToken).ConfigureAwait(false);
                if (children.Count >= _memberCount)
                {
                    await CreateReadyAsync(cancellationToken).ConfigureAwait(false);
                    return;
                }

                await wait.WaitAsync(_readyPath, WatcherType.Data, cancellationToken).ConfigureAwait(false);
            }
        }
        catch
        {
            await SequentialContender.DeleteQuietlyAsync(_zk, NodePath, _logger).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Leaves and waits until every member has left (Curator's <c>internalLeave</c>).</summary>
    public async ValueTask LeaveAsync(CancellationToken cancellationToken = default)
    {
        var ourName = ZkPaths.NameOf(NodePath);
        var ourNodeExists = true;
        while (true)
        {
            var children = await MembersAsync(cancellationToken).ConfigureAwait(false);
            var ourIndex = children.IndexOf(ourName);
            if (children.Count == 0 || (children.Count == 1 && ourIndex == 0) || (ourIndex < 0 && ourNodeExists))
            {
                // Last out, or our node went with our session (Curator throws when it is missing without a lost connection).
                await SequentialContender.DeleteQuietlyAsync(_zk, NodePath, _logger).ConfigureAwait(false);
                break;
            }

            using var wait = new OneShotWait(_zk, _logger);
            var watched = ZkPaths.Join(Path, ourIndex == 0 ? children[^1] : children[0]);
            if (ourIndex != 0 && ourNodeExists)
            {
                await SequentialContender.DeleteQuietlyAsync(_zk, NodePath, _logger).ConfigureAwait(false);
                ourNodeExists = false;
            }

            if (await ExistsAsync(watched, wait.Watcher, cancellationToken).ConfigureAwait(false))
            {
                await wait.WaitAsync(watched, WatcherType.Data, cancellationToken).ConfigureAwait(false);
            }
        }

        await SequentialContender.DeleteQuietlyAsync(_zk, _readyPath, _logger).ConfigureAwait(false);
    }

    /// <summary>Deletes this member's node if it is still there (a member that gives up).</summary>
    public ValueTask DisposeAsync() => SequentialContender.DeleteQuietlyAsync(_zk, NodePath, _logger);

    /// <summary>The members' node names, sorted, without <c>ready</c> (Curator's <c>filterAndSortChildren</c>).</summary>
    private async ValueTask<List<string>> MembersAsync(CancellationToken cancellationToken)
    {
        try
        {
            var children = await SessionRetry.RunAsync(_zk, Path, static (z, p, ct) => z.GetChildrenAsync(p, null, ct), cancellationToken).ConfigureAwait(false);
            var members = children.Where(c => c != ReadyName).ToList();
            members.Sort(StringComparer.Ordinal);
            return members;
        }
        catch (ZkException e) when (e.Code == ZkErrorCode.NoNode)
        {
            return [];
        }
    }

    private async ValueTask<bool> ExistsAsync(string path, Watcher watcher, CancellationToken cancellationToken) =>
        await SessionRetry.RunAsync(_zk, (path, watcher), static (z, s, ct) => z.ExistsAsync(s.path, s.watcher, ct), cancellationToken).ConfigureAwait(false) is not null;

    private async ValueTask CreateReadyAsync(CancellationToken cancellationToken)
    {
        try
        {
            await SessionRetry.RunAsync(_zk, _readyPath, static (z, p, ct) => z.CreateAsync(p, null, Acl.OpenUnsafe, CreateMode.Persistent, -1, ct), cancellationToken).ConfigureAwait(false);
        }
        catch (ZkException e) when (e.Code == ZkErrorCode.NodeExists)
        {
            // Another member saw the count first.
        }
    }
}
