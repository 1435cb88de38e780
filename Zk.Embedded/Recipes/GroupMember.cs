using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Zk.Embedded.Api;

namespace Zk.Embedded.Recipes;

/// <summary>
/// Group membership (Curator's <c>GroupMember</c>): this process is a member while its ephemeral node
/// <c>groupPath/memberId</c> exists, with a payload; <see cref="Members"/> is the group as a watch-maintained view.
/// </summary>
/// <remarks>
/// <para>Guarantees: after <see cref="JoinAsync(IZooKeeper, string, string, byte[], CancellationToken)"/> returns, the view holds every member as read then, this one
/// included; each later join, leave or payload change the session hears is followed by a reload and one
/// <see cref="MembersChanged"/> event. A member whose session expires or closes leaves every view. Disposing leaves
/// the group (deletes the node, riding out a lost connection) and stops the view.</para>
/// <para>Not guaranteed: an event per intermediate change; a current view while disconnected. Membership lives as
/// long as the session (Curator's <c>PersistentNode</c> re-creates the node on a new session; here, join again on a
/// new session after expiry).</para>
/// </remarks>
public sealed class GroupMember : IAsyncDisposable
{
    private readonly IZooKeeper _zk;
    private readonly ChildrenCache _view;
    private readonly ILogger _logger;
    private volatile IReadOnlyDictionary<string, ReadOnlyMemory<byte>> _members = new Dictionary<string, ReadOnlyMemory<byte>>();
    private int _left;

    private GroupMember(IZooKeeper zk, string groupPath, string memberId, ILogger logger)
    {
        _zk = zk;
        _logger = logger;
        Id = memberId;
        Path = ZkPaths.Validate(ZkPaths.Join(groupPath, memberId), nameof(memberId));
        _view = new ChildrenCache(zk, groupPath, logger);
        _view.Changed += OnChildren;
    }

    /// <summary>This member's id, its node's name.</summary>
    public string Id { get; }

    /// <summary>This member's node, <c>groupPath/memberId</c>.</summary>
    public string Path { get; }

    /// <summary>The group as last read: member id to payload.</summary>
    public IReadOnlyDictionary<string, ReadOnlyMemory<byte>> Members => _members;

    /// <summary>Raised after a reload found a member joined, left or changed its payload; on a background thread.</summary>
    public event Action<IReadOnlyDictionary<string, ReadOnlyMemory<byte>>>? MembersChanged;

    /// <summary>Joins the group at <paramref name="groupPath"/> as <paramref name="memberId"/> and loads the view.</summary>
    /// <exception cref="ZkException">NodeExists when a live member already has this id.</exception>
    public static ValueTask<GroupMember> JoinAsync(IZooKeeper zk, string groupPath, string memberId, byte[]? payload = null, CancellationToken cancellationToken = default) =>
        JoinAsync(zk, groupPath, memberId, payload, null, cancellationToken);

    /// <summary>
    /// Joins the group at <paramref name="groupPath"/> as <paramref name="memberId"/> and loads the view; failing view
    /// reloads and a node left behind on leaving are logged to <paramref name="logger"/>.
    /// </summary>
    /// <exception cref="ZkException">NodeExists when a live member already has this id.</exception>
    public static async ValueTask<GroupMember> JoinAsync(IZooKeeper zk, string groupPath, string memberId, byte[]? payload, ILogger? logger, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(zk);
        ArgumentException.ThrowIfNullOrEmpty(memberId);
        var member = new GroupMember(zk, ZkPaths.Validate(groupPath, nameof(groupPath)), memberId, logger ?? NullLogger.Instance);
        await EphemeralNode.CreateAsync(zk, member.Path, payload, cancellationToken).ConfigureAwait(false);
        try
        {
            await member._view.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await member.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return member;
    }

    /// <summary>Replaces this member's payload (Curator's <c>setThisData</c>).</summary>
    public async ValueTask SetPayloadAsync(byte[]? payload, CancellationToken cancellationToken = default) =>
        await SessionRetry.RunAsync(_zk, (Path, payload), static (z, s, ct) => z.SetDataAsync(s.Path, s.payload, -1, ct), cancellationToken).ConfigureAwait(false);

    /// <summary>Leaves the group: stops the view and deletes this member's node.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _left, 1) == 0)
        {
            await _view.StopAsync().ConfigureAwait(false);
            await SequentialContender.DeleteQuietlyAsync(_zk, Path, _logger).ConfigureAwait(false);
        }
    }

    private void OnChildren(IReadOnlyList<CachedChild> children)
    {
        var members = new Dictionary<string, ReadOnlyMemory<byte>>(children.Count, StringComparer.Ordinal);
        foreach (var child in children)
        {
            members[child.Name] = child.Data.Data;
        }

        _members = members;
        MembersChanged?.Invoke(members);
    }
}
