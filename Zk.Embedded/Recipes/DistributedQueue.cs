namespace Zk.Embedded.Recipes;

/// <summary>
/// A FIFO queue across processes (Curator's <c>DistributedQueue</c> node naming, the ZooKeeper recipes' queue): each
/// item is a persistent sequential node <c>path/queue-&lt;seq&gt;</c>; consumers take items in sequence order.
/// </summary>
/// <remarks>
/// <para>Guarantees: items are taken in the order their puts were applied; each item is taken by one consumer (the one
/// whose delete wins); a waiting consumer watches the folder and wakes when items come.</para>
/// <para>Not guaranteed: exactly once across a lost connection. A put whose reply is lost is not retried (it may have
/// been applied: the caller decides); a take whose delete reply is lost retries the delete, finds the item gone, and
/// moves on, so that item is lost to everyone (Curator's non-locking mode has the same window). Item data is raw
/// bytes, not Curator's serialized <c>MultiItem</c> envelope: a Curator consumer sees the nodes but not its format.</para>
/// </remarks>
public sealed class DistributedQueue
{
    private readonly QueueCore _core;

    /// <summary>A queue at <paramref name="path"/> on <paramref name="zk"/>.</summary>
    public DistributedQueue(Api.IZooKeeper zk, string path)
    {
        ArgumentNullException.ThrowIfNull(zk);
        _core = new QueueCore(zk, path);
    }

    /// <summary>The queue's folder.</summary>
    public string Path => _core.Path;

    /// <summary>Adds an item at the tail; returns its node.</summary>
    public ValueTask<string> PutAsync(byte[] data, CancellationToken cancellationToken = default) => _core.PutAsync("", data, cancellationToken);

    /// <summary>Takes the head item, waiting while the queue is empty.</summary>
    public async ValueTask<byte[]> TakeAsync(CancellationToken cancellationToken = default) =>
        (await _core.TakeAsync(wait: true, cancellationToken).ConfigureAwait(false))!;

    /// <summary>Takes the head item; null when the queue is empty.</summary>
    public ValueTask<byte[]?> TryTakeAsync(CancellationToken cancellationToken = default) => _core.TakeAsync(wait: false, cancellationToken);
}

/// <summary>
/// A priority queue across processes (Curator's <c>DistributedPriorityQueue</c> node naming): an item is
/// <c>path/queue-&lt;priority&gt;&lt;seq&gt;</c> with the priority encoded so names sort by it (Curator's
/// <c>priorityToString</c>); lower numbers come first, equal priorities in put order.
/// </summary>
/// <remarks>The guarantees and limits of <see cref="DistributedQueue"/> apply.</remarks>
public sealed class DistributedPriorityQueue
{
    private readonly QueueCore _core;

    /// <summary>A priority queue at <paramref name="path"/> on <paramref name="zk"/>.</summary>
    public DistributedPriorityQueue(Api.IZooKeeper zk, string path)
    {
        ArgumentNullException.ThrowIfNull(zk);
        _core = new QueueCore(zk, path);
    }

    /// <summary>The queue's folder.</summary>
    public string Path => _core.Path;

    /// <summary>Adds an item with <paramref name="priority"/> (lower first); returns its node.</summary>
    public ValueTask<string> PutAsync(byte[] data, int priority, CancellationToken cancellationToken = default) =>
        _core.PutAsync(PriorityKey(priority), data, cancellationToken);

    /// <summary>Takes the item of lowest priority number, waiting while the queue is empty.</summary>
    public async ValueTask<byte[]> TakeAsync(CancellationToken cancellationToken = default) =>
        (await _core.TakeAsync(wait: true, cancellationToken).ConfigureAwait(false))!;

    /// <summary>Takes the item of lowest priority number; null when the queue is empty.</summary>
    public ValueTask<byte[]?> TryTakeAsync(CancellationToken cancellationToken = default) => _core.TakeAsync(wait: false, cancellationToken);

    /// <summary>Curator's <c>priorityToString</c>: "0" for negative, "1" otherwise, then the 32 bits as 8 hex digits.</summary>
    internal static string PriorityKey(int priority) =>
        (priority >= 0 ? "1" : "0") + ((uint)priority).ToString("X8", System.Globalization.CultureInfo.InvariantCulture);
}
