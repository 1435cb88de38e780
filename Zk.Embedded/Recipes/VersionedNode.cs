using Zk.Embedded.Api;

namespace Zk.Embedded.Recipes;

/// <summary>
/// Compare-and-set on one node's data version, the ground of the counters (Curator's <c>DistributedAtomicValue</c>
/// optimistic mode): read data and version, then write only if the version is still the one read.
/// </summary>
internal static class VersionedNode
{
    /// <summary>The node's data and version; null when it does not exist.</summary>
    public static async ValueTask<DataResult?> ReadAsync(IZooKeeper zk, string path, CancellationToken cancellationToken)
    {
        try
        {
            return await SessionRetry.RunAsync(zk, path, static (z, p, ct) => z.GetDataAsync(p, null, ct), cancellationToken).ConfigureAwait(false);
        }
        catch (ZkException e) when (e.Code == ZkErrorCode.NoNode)
        {
            return null;
        }
    }

    /// <summary>
    /// Writes <paramref name="data"/> if the node is still at <paramref name="seen"/>'s version, or creates it (parents
    /// as containers) when <paramref name="seen"/> is null; false when another writer came first. The write is a multi
    /// that also sets this session's marker (<see cref="MarkerOf"/>) to a fresh id, so after a ConnectionLoss (the
    /// write may or may not have happened) the marker says which: comparing the node's data would take another
    /// writer's identical value (two adders that read the same count write the same next count) for this one, losing
    /// an add; Curator's retry would apply it twice.
    /// </summary>
    public static async ValueTask<bool> TryWriteAsync(IZooKeeper zk, string path, DataResult? seen, byte[] data, CancellationToken cancellationToken)
    {
        var marker = MarkerOf(zk, path);
        var id = Guid.NewGuid().ToByteArray();
        var markerExists = seen is not null; // a guess: corrected once if wrong (a session's first write here)
        if (seen is null)
            await ZkPaths.CreateParentContainersAsync(zk, path[..path.LastIndexOf('/')] is { Length: > 0 } parent ? parent : "/", cancellationToken).ConfigureAwait(false);
        while (true)
        {
            try
            {
                await zk.MultiAsync(WriteOps(path, seen, data, marker, id, markerExists), cancellationToken).ConfigureAwait(false);
                return true;
            }
            catch (ZkException e) when (e.Code == ZkErrorCode.ConnectionLoss)
            {
                await SessionRetry.WaitUntilConnectedAsync(zk, 1, cancellationToken).ConfigureAwait(false);
                return await ReadAsync(zk, marker, cancellationToken).ConfigureAwait(false) is { } now && now.Data.Span.SequenceEqual(id);
            }
            catch (ZkException e) when (e.Code is ZkErrorCode.BadVersion or ZkErrorCode.NoNode or ZkErrorCode.NodeExists)
            {
                if (!MarkerFailed(e) || seen is null)
                    return false; // the node moved on (or came or went): another writer came first
                markerExists = !markerExists;
            }
        }
    }

    /// <summary>
    /// The ephemeral child of <paramref name="path"/> this session's writes set (<c>_w-</c> and the session id in hex):
    /// one per session and node, gone with the session. A node with markers cannot be deleted while their sessions live.
    /// </summary>
    internal static string MarkerOf(IZooKeeper zk, string path) => $"{(path == "/" ? "" : path)}/_w-{zk.SessionId:x16}";

    private static Op[] WriteOps(string path, DataResult? seen, byte[] data, string marker, byte[] id, bool markerExists) =>
    [
        seen is { } read ? Op.SetData(path, data, read.Stat.Version) : Op.Create(path, data, Acl.OpenUnsafe, CreateMode.Persistent),
        markerExists ? Op.SetData(marker, id) : Op.Create(marker, id, Acl.OpenUnsafe, CreateMode.Ephemeral),
    ];

    /// <summary>Whether the multi failed at the marker (op 1) rather than at the node (op 0).</summary>
    private static bool MarkerFailed(ZkException e) =>
        e.Results is { Count: 2 } results && results[0] is ErrorResult { Code: ZkErrorCode.Ok } && results[1] is ErrorResult { Code: ZkErrorCode.NoNode or ZkErrorCode.NodeExists };

    /// <summary>Applies <paramref name="next"/> to the current data (null when absent) until a write wins; returns the data written.</summary>
    public static async ValueTask<byte[]> UpdateAsync(IZooKeeper zk, string path, Func<ReadOnlyMemory<byte>?, byte[]> next, CancellationToken cancellationToken)
    {
        while (true)
        {
            var seen = await ReadAsync(zk, path, cancellationToken).ConfigureAwait(false);
            var data = next(seen?.Data);
            if (await TryWriteAsync(zk, path, seen, data, cancellationToken).ConfigureAwait(false))
            {
                return data;
            }
        }
    }
}
