using System.Collections.Concurrent;
using Zk.Embedded.Api;
using Zk.Testing;

namespace Zk.Embedded.Tests.Testing;

/// <summary>
/// A lying session for the history checker's tests: it remembers the first getData of each path and, while replaying
/// (the default), answers every later getData of that path with it, however the znode changed since.
/// </summary>
internal sealed class StaleReads(IZooKeeper inner) : DelegatingZooKeeper(inner)
{
    private readonly ConcurrentDictionary<string, DataResult> _first = new();
    private volatile bool _replay = true;

    /// <summary>Reads go to the session underneath (what was remembered stays remembered).</summary>
    public void PassThrough() => _replay = false;

    /// <summary>Reads of a remembered path answer what was remembered.</summary>
    public void Replay() => _replay = true;

    public override async ValueTask<DataResult> GetDataAsync(string path, Watcher? watcher = null, CancellationToken cancellationToken = default)
    {
        if (_replay && _first.TryGetValue(path, out var remembered))
            return remembered;
        var read = await Inner.GetDataAsync(path, watcher, cancellationToken);
        _first.TryAdd(path, read);
        return read;
    }
}
