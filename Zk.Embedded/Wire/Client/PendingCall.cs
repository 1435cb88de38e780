using Zk.Embedded.Api;
using Zk.Embedded.Wire.Jute;

namespace Zk.Embedded.Wire.Client;

/// <summary>Something the client's dispatch loop runs in arrival order: a reply, a watch event, a state change.</summary>
internal abstract class Dispatchable
{
    public abstract void Dispatch();
}

/// <summary>Decodes a reply body; <paramref name="chroot"/> strips the chroot from paths in it.</summary>
internal delegate bool ReplyReader<T>(ref JuteReader reader, Chroot chroot, out T value);

/// <summary>
/// A request sent and waiting for its reply. The reader loop matches replies to calls in send order (FIFO per
/// connection), fills <see cref="Error"/> and the body, and hands the call to the dispatch loop, which registers its
/// watch and completes the caller's task there, so watch bookkeeping and events keep one order.
/// </summary>
internal abstract class PendingCall(OpCode op, string? path) : Dispatchable
{
    public int Xid { get; set; }

    public OpCode Op { get; } = op;

    /// <summary>The path as the caller named it (without chroot), for errors.</summary>
    public string? Path { get; } = path;

    public ZkErrorCode Error { get; set; } = ZkErrorCode.Ok;

    /// <summary>Reads the body of a successful reply; false when it does not decode.</summary>
    public abstract bool TryReadBody(ref JuteReader reader, Chroot chroot);

    /// <summary>Ends the call with a connection-level failure (ConnectionLoss, SessionExpired, ...).</summary>
    public void Fail(ZkErrorCode code) => Error = code;
}

/// <summary>A call whose reply carries a <typeparamref name="T"/>.</summary>
internal sealed class PendingCall<T>(OpCode op, string? path, ReplyReader<T>? decode, WatchRegistration? watch = null, bool noNodeIsDefault = false)
    : PendingCall(op, path)
{
    private readonly TaskCompletionSource<T> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private T _value = default!;

    public Task<T> Task => _completion.Task;

    public override bool TryReadBody(ref JuteReader reader, Chroot chroot) =>
        decode is null || ReadWith(decode, ref reader, chroot);

    public override void Dispatch()
    {
        watch?.Register(Error);
        if (Error == ZkErrorCode.Ok)
        {
            _completion.TrySetResult(_value);
        }
        else if (Error == ZkErrorCode.NoNode && noNodeIsDefault)
        {
            _completion.TrySetResult(default!);
        }
        else
        {
            _completion.TrySetException(new ZkException(Error, Path));
        }
    }

    private bool ReadWith(ReplyReader<T> body, ref JuteReader juteReader, Chroot chroot)
    {
        if (!body(ref juteReader, chroot, out var value))
        {
            return false;
        }

        _value = value;
        return true;
    }
}

/// <summary>A watch to add to the client's registry when its request's reply arrives (Java's <c>WatchRegistration</c>).</summary>
internal sealed class WatchRegistration(ClientSession client, string path, Watcher watcher, WatchKind kind)
{
    public void Register(ZkErrorCode error) => client.Watches.Register(path, watcher, kind, error);
}

/// <summary>Which client table a watch goes to; <see cref="Exists"/> picks data or exist by the reply's code.</summary>
internal enum WatchKind
{
    Data,
    Exists,
    Child,
    Persistent,
    PersistentRecursive,
}

/// <summary>Runs a watch event (or a removal notice for one watcher) in the dispatch loop.</summary>
internal sealed class EventDispatch(ClientSession client, WatchedEvent watchedEvent, Watcher? only = null) : Dispatchable
{
    public override void Dispatch() => client.Watches.Deliver(watchedEvent, only);
}
