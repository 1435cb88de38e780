// Configuration management across processes. This process embeds a peer with a client port and publishes
// /config/app; two worker processes (this program again, with "worker") connect over ZooKeeper's wire protocol, read
// the configuration with a watch, apply every new version and report the version they run in their own ephemeral
// znode under /workers. A watch fires once, so each worker sets the next one as it re-reads: no change is missed,
// because the re-read returns the newest data even when several changes came between two reads.
// Run: dotnet run --project samples/ConfigManagement
using System.Diagnostics;
using System.Text;
using Zk.Embedded;
using Zk.Embedded.Api;
using Zk.Embedded.Wire.Client;

if (args is ["worker", var connect, var name])
{
    await RunWorkerAsync(connect, name);
    return;
}

// A short tick allows the workers' 2 s session timeout (ZooKeeper's floor is two ticks).
await using var peer = await ZkPeer.StartAsync(new ZkPeerOptions { ClientPort = 0, TickTime = TimeSpan.FromMilliseconds(500) });
await using var admin = await peer.ConnectAsync();
var endpoint = peer.ClientEndPoint!.ToString();
await admin.CreateAsync("/config", null, Acl.OpenUnsafe, CreateMode.Persistent);
await admin.CreateAsync("/config/app", Utf8("timeout=5s"), Acl.OpenUnsafe, CreateMode.Persistent);
await admin.CreateAsync("/workers", null, Acl.OpenUnsafe, CreateMode.Persistent);
Console.WriteLine($"admin: peer serves on {endpoint}; /config/app = timeout=5s (version 0)");

var workers = new[] { StartWorker(endpoint, "worker-1"), StartWorker(endpoint, "worker-2") };
await AllWorkersRunAsync(admin, workers.Length, version: 0);

Console.WriteLine("admin: sets /config/app = timeout=10s");
var stat = await admin.SetDataAsync("/config/app", Utf8("timeout=10s"));
await AllWorkersRunAsync(admin, workers.Length, stat.Version);

// A conditional write: it applies only over the version this admin read, so two admins never overwrite each other.
Console.WriteLine($"admin: sets /config/app = timeout=20s over version {stat.Version} only");
stat = await admin.SetDataAsync("/config/app", Utf8("timeout=20s"), version: stat.Version);
await AllWorkersRunAsync(admin, workers.Length, stat.Version);

Console.WriteLine("admin: worker-1's process is killed; its session expires and its znode goes");
workers[0].Kill();
await AllWorkersRunAsync(admin, workers.Length - 1, stat.Version);

Console.WriteLine("admin: deletes /config/app; worker-2 stops");
await admin.DeleteAsync("/config/app");
await workers[1].WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
Console.WriteLine($"admin: done (worker-2 exited with {workers[1].ExitCode})");

static async Task RunWorkerAsync(string connect, string name)
{
    await using var zk = await ZkClient.ConnectAsync(connect, new ZkClientOptions { SessionTimeout = TimeSpan.FromSeconds(2) });
    var report = await zk.CreateAsync($"/workers/{name}", Utf8("-1"), Acl.OpenUnsafe, CreateMode.Ephemeral);
    while (true)
    {
        var changed = new TaskCompletionSource<WatchedEvent>(TaskCreationOptions.RunContinuationsAsynchronously);
        DataResult config;
        try
        {
            config = await zk.GetDataAsync("/config/app", watcher: e => changed.TrySetResult(e));
        }
        catch (ZkException e) when (e.Code == ZkErrorCode.NoNode)
        {
            break;
        }

        Console.WriteLine($"{name}: applies {Encoding.UTF8.GetString(config.Data.Span)} (version {config.Stat.Version})");
        await zk.SetDataAsync(report, Utf8(config.Stat.Version.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        if ((await changed.Task).Type == EventType.NodeDeleted)
            break;
    }

    Console.WriteLine($"{name}: /config/app is gone; stopping");
}

// Waits until exactly `count` workers report `version`, re-reading on every change of the member list or a report.
static async Task AllWorkersRunAsync(IZooKeeper admin, int count, int version)
{
    using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
    while (true)
    {
        var changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Watcher wake = _ => changed.TrySetResult();
        var names = await admin.GetChildrenAsync("/workers", wake);
        var running = 0;
        foreach (var worker in names)
        {
            try
            {
                var report = await admin.GetDataAsync($"/workers/{worker}", wake);
                running += Encoding.UTF8.GetString(report.Data.Span) == version.ToString(System.Globalization.CultureInfo.InvariantCulture) ? 1 : 0;
            }
            catch (ZkException e) when (e.Code == ZkErrorCode.NoNode)
            {
                // it left between the two reads; the children watch has fired
            }
        }

        if (names.Count == count && running == count)
        {
            Console.WriteLine($"admin: {string.Join(", ", names.Order())} run version {version}");
            return;
        }

        await changed.Task.WaitAsync(deadline.Token);
    }
}

static Process StartWorker(string endpoint, string name)
{
    // Under `dotnet run` this program is its own executable; under `dotnet ConfigManagement.dll` it is the dll.
    var host = Environment.ProcessPath!;
    var info = new ProcessStartInfo(host) { UseShellExecute = false };
    if (Path.GetFileNameWithoutExtension(host) == "dotnet")
        info.ArgumentList.Add(typeof(Program).Assembly.Location);
    foreach (var arg in new[] { "worker", endpoint, name })
        info.ArgumentList.Add(arg);
    return Process.Start(info) ?? throw new InvalidOperationException($"could not start {name}");
}

static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);
