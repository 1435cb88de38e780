// The classic two-client lock walk-through, with Zk.Embedded's lock recipe (Curator's InterProcessMutex protocol):
// each client creates an ephemeral-sequential node under the lock, the lowest holds it, the other watches only the
// node just before its own, and takes the lock when that node goes. Run: dotnet run --project samples/LockWalkthrough
using Zk.Embedded;
using Zk.Embedded.Api;
using Zk.Embedded.Recipes;

const string LockPath = "/locks/report";

// No DataDir: the peer keeps its state in memory.
await using var peer = await ZkPeer.StartAsync(new ZkPeerOptions());
await using var clientA = await peer.ConnectAsync();
await using var clientB = await peer.ConnectAsync();
await using var observer = await peer.ConnectAsync();

Console.WriteLine("1. client A asks for the lock: it creates an ephemeral-sequential node under " + LockPath);
var leaseA = await clientA.AcquireLockAsync(LockPath);
Console.WriteLine($"   A created {Short(leaseA.NodePath)}; getChildren shows it is the lowest, so A holds the lock (fencing token 0x{leaseA.FencingToken:x})");

Console.WriteLine("2. client B asks for the lock: it creates its own node");
var waitingB = clientB.AcquireLockAsync(LockPath).AsTask();
var children = await WaitForChildrenAsync(2);
var nodeB = children[1];
Console.WriteLine($"   B created {nodeB}; getChildren shows {children[0]} before it, so B sets a watch on that node only and waits");
Console.WriteLine($"   {LockPath}: [{string.Join(", ", children)}]");

Console.WriteLine("3. client A works under the lock, then releases it: it deletes its node");
await leaseA.DisposeAsync();
Console.WriteLine($"   A deleted {Short(leaseA.NodePath)}");

Console.WriteLine("4. B's watch fires; B calls getChildren again, finds its node the lowest, and holds the lock");
await using var leaseB = await waitingB;
Console.WriteLine($"   B holds with {Short(leaseB.NodePath)} (fencing token 0x{leaseB.FencingToken:x}, larger than A's)");
Console.WriteLine($"   {LockPath}: [{string.Join(", ", await observer.GetChildrenAsync(LockPath))}]");

Console.WriteLine("5. if B's process died instead, its session would expire and the peer would delete its ephemeral node: the lock frees itself");

static string Short(string path) => path[(path.LastIndexOf('/') + 1)..];

async Task<List<string>> WaitForChildrenAsync(int count)
{
    while (true)
    {
        var changed = new TaskCompletionSource();
        var names = await observer.GetChildrenAsync(LockPath, _ => changed.TrySetResult());
        if (names.Count >= count)
        {
            // Curator's order: by the sequence suffix after "lock-".
            return names.OrderBy(n => n[(n.LastIndexOf("lock-", StringComparison.Ordinal) + 5)..], StringComparer.Ordinal).ToList();
        }

        await changed.Task;
    }
}
