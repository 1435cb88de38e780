using System.Threading.Channels;
using Zk.Embedded.Consensus;
using Zk.Embedded.Storage;

namespace Zk.Embedded.Ensemble;

/// <summary>
/// Takes the core's persist requests off the driver's loop, which never waits on a disk: on its own thread it writes
/// every request queued so far to the <see cref="IConsensusStore"/> in order, syncs once (group commit, as
/// PeerStorage's sync loop does) and reports the last request's seq durable; the driver then steps the core with
/// <see cref="ZabPeer.StorageDone"/>. A store fault (a broken invariant, a failed write) is reported once and ends the
/// worker: nothing after it is written, so nothing after it is ever reported durable.
/// The queue is bounded (<see cref="DefaultCapacity"/> requests): when the disk falls that far behind,
/// <see cref="Enqueue"/> waits, which stalls the driver's loop, whose bounded inbox then stops taking transport
/// messages (the transport's own bounded queues drop them, a loss the protocol repairs) and whose leader pipeline
/// stops taking client writes (its bounded queue makes submitters wait, as ZooKeeper's throttle does). The worker never
/// waits on the loop (its reports go to the driver's control inputs, which are not bounded), so this cannot deadlock.
/// </summary>
internal sealed class StorageWorker : IAsyncDisposable
{
    /// <summary>Requests per sync at most: bounds the time from the first of a batch to its report.</summary>
    private const int MaxBatch = 4096;

    /// <summary>Requests queued at most before <see cref="Enqueue"/> waits: a few group commits' worth.</summary>
    public const int DefaultCapacity = 16 * 1024;

    private readonly Channel<PersistRequest> _queue;
    private readonly IConsensusStore _store;
    private readonly Action<long> _durable;
    private readonly Action<Exception> _failed;
    private readonly Task _run;
    private long _written = -1;      // inline only: the last seq written since TakeWritten
    private Exception? _fault;       // inline only: nothing is written after a fault

    public StorageWorker(IConsensusStore store, Action<long> durable, Action<Exception> failed, int capacity = DefaultCapacity)
    {
        (_store, _durable, _failed) = (store, durable, failed);
        _queue = Channel.CreateBounded<PersistRequest>(new BoundedChannelOptions(capacity) { SingleReader = true, SingleWriter = true, FullMode = BoundedChannelFullMode.Wait });
        _run = store.DurableAtOnce
            ? Task.CompletedTask
            : DiskWork.Start(Run);
    }

    /// <summary>
    /// True when requests are written as they are queued, on the caller's thread (<see cref="IConsensusStore.DurableAtOnce"/>):
    /// a store in memory gains nothing from a thread of its own, and each hand-off to one and each report back cost a
    /// thread wake-up per batch and member. The caller then takes what is durable with <see cref="TakeWritten"/>.
    /// </summary>
    public bool WritesInline => _store.DurableAtOnce;

    /// <summary>The seq of the last request written inline since the last call, or -1 (<see cref="WritesInline"/>).</summary>
    public long TakeWritten()
    {
        var last = _written;
        _written = -1;
        return last;
    }

    /// <summary>Requests waiting for the worker (tests and telemetry).</summary>
    public int Queued => _queue.Reader.Count;

    /// <summary>
    /// Queues a request; called on the driver's loop, in seq order. Waits while the queue is full (back-pressure, see
    /// the class); after a fault the request is dropped, as the fault report that stops the loop is on its way.
    /// </summary>
    public void Enqueue(PersistRequest request)
    {
        if (WritesInline)
        {
            WriteInline(request);
            return;
        }
        if (_queue.Writer.TryWrite(request))
            return;
        try
        {
            // Blocking the loop is the policy: the disk is the bottleneck and the worker frees a slot without it.
            _queue.Writer.WriteAsync(request).AsTask().GetAwaiter().GetResult();
        }
        catch (ChannelClosedException)
        {
        }
    }

    /// <summary>
    /// One request written on the caller's thread. A fault is reported as the worker reports one (once, and nothing
    /// after it is written or reported durable).
    /// </summary>
    private void WriteInline(PersistRequest request)
    {
        if (_fault is not null)
            return;
        try
        {
            if (Write(request))
                _written = request.Seq;
        }
        catch (Exception e)
        {
            _fault = e;
            _written = -1;
            _failed(e);
        }
    }

    private bool Write(PersistRequest request) => WriteTo(_store, request);

    /// <summary>
    /// Writes one request to <paramref name="store"/> (durable at its next sync); true when it is one of the core's
    /// (reported durable), false for the member's housekeeping. The simulator writes its peers' stores with it too.
    /// </summary>
    internal static bool WriteTo(IConsensusStore store, PersistRequest request)
    {
        switch (request)
        {
            // The member's own housekeeping, in order with the core's requests; nothing the core waits for.
            case SaveSnapshot save:
                store.SaveSnapshot(save.Snapshot);
                (save.Snapshot.Body as SnapshotBody)?.Delete(); // unless the store moved it into place
                return false;
            case PurgeLog purge:
                store.Purge(purge.Retain);
                return false;
            default:
                store.Write(request);
                return true;
        }
    }

    private void Run()
    {
        var reader = _queue.Reader;
        try
        {
            // Blocking here is the point: this thread is the one that waits on the disk.
            while (reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
            {
                var last = -1L;
                for (var n = 0; n < MaxBatch && reader.TryRead(out var request); n++)
                {
                    if (Write(request))
                        last = request.Seq;
                }

                if (last < 0)
                    continue;
                _store.Sync();
                _durable(last);
            }
        }
        catch (Exception e)
        {
            _queue.Writer.TryComplete();
            _failed(e);
        }
    }

    /// <summary>Stops after the queued requests are written (or the store failed).</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _run.ConfigureAwait(false);
    }
}
