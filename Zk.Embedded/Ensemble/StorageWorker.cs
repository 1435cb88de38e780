using System.Threading.Channels;
using Zk.Embedded.Consensus;

namespace Zk.Embedded.Ensemble;

/// <summary>
/// Takes the core's persist requests off the driver's loop, which never waits on a disk: on its own thread it writes
/// every request queued so far to the <see cref="IConsensusStore"/> in order, syncs once (group commit, as
/// PeerStorage's sync loop does) and reports the last request's seq durable; the driver then steps the core with
/// <see cref="ZabPeer.StorageDone"/>. A store fault (a broken invariant, a failed write) is reported once and ends the
/// worker: nothing after it is written, so nothing after it is ever reported durable.
/// </summary>
internal sealed class StorageWorker : IAsyncDisposable
{
    /// <summary>Requests per sync at most: bounds the time from the first of a batch to its report.</summary>
    private const int MaxBatch = 4096;

    private readonly Channel<PersistRequest> _queue = Channel.CreateUnbounded<PersistRequest>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly IConsensusStore _store;
    private readonly Action<long> _durable;
    private readonly Action<Exception> _failed;
    private readonly Task _run;

    public StorageWorker(IConsensusStore store, Action<long> durable, Action<Exception> failed)
    {
        (_store, _durable, _failed) = (store, durable, failed);
        _run = Task.Factory.StartNew(Run, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    /// <summary>Queues a request; called on the driver's loop, in seq order.</summary>
    public void Enqueue(PersistRequest request) => _queue.Writer.TryWrite(request);

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
                    _store.Write(request);
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
