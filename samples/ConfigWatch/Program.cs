// Configuration management with an embedded peer: one session publishes settings, others watch them and
// re-read on every change (watches fire once, so each handler sets the next watch), and a member list of
// ephemeral sequential nodes shows who is alive. Run: dotnet run --project samples/ConfigWatch
using System.Text;
using System.Threading.Channels;
using Zk.Embedded;
using Zk.Embedded.Api;

// No DataDir: the peer keeps its state in memory (set one to make it durable).
await using var peer = await ZkPeer.StartAsync(new ZkPeerOptions());
await using var admin = await peer.ConnectAsync();
await admin.CreateAsync("/config", Encoding.UTF8.GetBytes("timeout=5s"), Acl.OpenUnsafe, CreateMode.Persistent);
await admin.CreateAsync("/members", null, Acl.OpenUnsafe, CreateMode.Persistent);

var changes = Channel.CreateUnbounded<string>();
var workers = new List<IZooKeeper>();
for (var i = 0; i < 3; i++)
{
    var worker = await peer.ConnectAsync();
    workers.Add(worker);
    var name = await worker.CreateAsync("/members/worker-", null, Acl.OpenUnsafe, CreateMode.EphemeralSequential);
    await WatchConfigAsync(worker, name);
}

Console.WriteLine($"members: {string.Join(", ", await admin.GetChildrenAsync("/members"))}");
await admin.SetDataAsync("/config", Encoding.UTF8.GetBytes("timeout=10s"));
for (var seen = 0; seen < workers.Count; seen++)
{
    Console.WriteLine(await changes.Reader.ReadAsync());
}

await workers[0].CloseAsync();   // its ephemeral member node goes with it
Console.WriteLine($"members after one left: {string.Join(", ", await admin.GetChildrenAsync("/members"))}");
foreach (var worker in workers)
{
    await worker.DisposeAsync();
}

async Task WatchConfigAsync(IZooKeeper session, string member)
{
    var (data, stat) = await session.GetDataAsync("/config", e =>
    {
        if (e.Type == EventType.NodeDataChanged)
        {
            _ = Task.Run(async () =>
            {
                var (updated, s) = await session.GetDataAsync("/config");
                changes.Writer.TryWrite($"{member} sees {Encoding.UTF8.GetString(updated.Span)} (version {s.Version})");
            });
        }
    });
    Console.WriteLine($"{member} starts with {Encoding.UTF8.GetString(data.Span)} (version {stat.Version})");
}
