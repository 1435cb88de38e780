using System.Threading.Channels;

namespace Zk.Embedded.Wire.Client;

/// <summary>
/// The client's event thread (Java's <c>ClientCnxn.EventThread</c>): one loop that runs replies, watch events and state
/// changes in the order the connection produced them, so a watcher has run before the reply of a read that shows its
/// change completes. Callers' continuations then run on the thread pool, never inside this loop.
/// </summary>
internal sealed class ClientDispatcher
{
    private readonly Channel<Dispatchable> _queue = Channel.CreateUnbounded<Dispatchable>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _loop;

    public ClientDispatcher(Action<Exception> onFailure)
    {
        _loop = RunAsync(onFailure);
    }

    public Task Completion => _loop;

    /// <summary>Queues an item; after <see cref="Complete"/>, items are run here and now so no caller hangs.</summary>
    public void Post(Dispatchable item)
    {
        if (!_queue.Writer.TryWrite(item))
        {
            item.Dispatch();
        }
    }

    /// <summary>Lets the loop end once what is queued has run.</summary>
    public void Complete() => _queue.Writer.TryComplete();

    private async Task RunAsync(Action<Exception> onFailure)
    {
        await Task.Yield();
        await foreach (var item in _queue.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            try
            {
                item.Dispatch();
            }
            catch (Exception e)
            {
                onFailure(e);
            }
        }
    }
}
