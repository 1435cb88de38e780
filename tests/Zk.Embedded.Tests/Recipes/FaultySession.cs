using System.Reflection;
using Zk.Embedded.Api;

namespace Zk.Embedded.Tests.Recipes;

/// <summary>
/// A real session with one fault: the next create (setData, multi) goes through to the peer and then throws
/// ConnectionLoss, as when the connection drops after the server applied it and before its reply arrived; or the next
/// multi is lost before it reaches the peer (<c>lostMultis</c>), with something else happening meanwhile. Every other
/// call passes through.
/// </summary>
public class FaultySession : DispatchProxy
{
    private IZooKeeper _inner = null!;
    private int _createFaults;
    private int _setDataFaults;
    private int _multiFaults;
    private int _lostMultis;
    private Func<Task>? _meanwhile;
    private bool _oldServer;

    /// <summary>Creates that made their node and then reported ConnectionLoss.</summary>
    public int FaultedCreates { get; private set; }

    /// <summary>setData calls that were applied and then reported ConnectionLoss.</summary>
    public int FaultedSetData { get; private set; }

    /// <summary>multi calls that were applied and then reported ConnectionLoss, or lost before the peer.</summary>
    public int FaultedMulti { get; private set; }

    /// <summary>A session that answers addWatch with Unimplemented, as a server before ZooKeeper 3.6 does.</summary>
    internal static IZooKeeper WithoutAddWatch(IZooKeeper inner)
    {
        var proxy = Wrap(inner);
        Of(proxy)._oldServer = true;
        return proxy;
    }

    internal static IZooKeeper Wrap(IZooKeeper inner, int createFaults = 0, int setDataFaults = 0, int multiFaults = 0)
    {
        var proxy = Create<IZooKeeper, FaultySession>();
        var faulty = (FaultySession)(object)proxy;
        faulty._inner = inner;
        faulty._createFaults = createFaults;
        faulty._setDataFaults = setDataFaults;
        faulty._multiFaults = multiFaults;
        return proxy;
    }

    /// <summary>A session whose next multi never reaches the peer: <paramref name="meanwhile"/> runs, then it reports ConnectionLoss.</summary>
    internal static IZooKeeper LosingNextMulti(IZooKeeper inner, Func<Task> meanwhile)
    {
        var proxy = Wrap(inner);
        Of(proxy)._lostMultis = 1;
        Of(proxy)._meanwhile = meanwhile;
        return proxy;
    }

    internal static FaultySession Of(IZooKeeper proxy) => (FaultySession)(object)proxy;

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        if (targetMethod!.Name is nameof(IZooKeeper.CreateWithStatAsync) && _createFaults > 0)
        {
            _createFaults--;
            FaultedCreates++;
#pragma warning disable CA2012 // The boxed ValueTask from reflection is awaited exactly once, by FailAfter.
            return FailAfter((ValueTask<CreateResult>)targetMethod.Invoke(_inner, args)!);
#pragma warning restore CA2012
        }

        if (targetMethod.Name is nameof(IZooKeeper.SetDataAsync) && _setDataFaults > 0)
        {
            _setDataFaults--;
            FaultedSetData++;
#pragma warning disable CA2012 // As above.
            return FailAfter((ValueTask<Stat>)targetMethod.Invoke(_inner, args)!);
#pragma warning restore CA2012
        }

        if (targetMethod.Name is nameof(IZooKeeper.MultiAsync) && (_multiFaults > 0 || _lostMultis > 0))
        {
            FaultedMulti++;
            if (_lostMultis-- > 0)
#pragma warning disable CA2012 // Returned to the caller, which awaits it once.
                return LostAsync(_meanwhile!);
#pragma warning restore CA2012
            _multiFaults--;
#pragma warning disable CA2012 // As above.
            return FailAfter((ValueTask<IReadOnlyList<OpResult>>)targetMethod.Invoke(_inner, args)!);
#pragma warning restore CA2012
        }

        if (targetMethod.Name is nameof(IZooKeeper.AddWatchAsync) && _oldServer)
        {
#pragma warning disable CA2012 // Returned to the caller, which awaits it once.
            return ValueTask.FromException(new ZkException(ZkErrorCode.Unimplemented, (string?)args![0], "injected: a server before 3.6 has no addWatch"));
#pragma warning restore CA2012
        }

        return targetMethod.Invoke(_inner, args);
    }

    private static async ValueTask<IReadOnlyList<OpResult>> LostAsync(Func<Task> meanwhile)
    {
        await meanwhile();
        throw new ZkException(ZkErrorCode.ConnectionLoss, null, "injected: the call was lost before the server");
    }

    private static async ValueTask<T> FailAfter<T>(ValueTask<T> call)
    {
        await call;
        throw new ZkException(ZkErrorCode.ConnectionLoss, null, "injected: the call was applied, its reply lost");
    }
}
