// Service discovery with load spread over instances. Each instance of an "echo" service listens on its own TCP port
// and registers itself (name, address, port) as an ephemeral znode under /services/echo, Curator's layout; a client
// keeps a ServiceCache of the instances (it follows the children with watches) and spreads its requests round robin.
// An instance that stops, or whose process dies and whose session expires, leaves every client's view; a new one
// joins it. Run: dotnet run --project samples/ServiceDiscovery
using System.Net;
using System.Net.Sockets;
using System.Text;
using Zk.Embedded;
using Zk.Embedded.Api;
using Zk.Embedded.Recipes;

await using var peer = await ZkPeer.StartAsync(new ZkPeerOptions());
var instances = new List<EchoInstance>();
for (var i = 1; i <= 3; i++)
    instances.Add(await EchoInstance.StartAsync(peer, $"instance-{i}"));

await using var client = await peer.ConnectAsync();
await using var cache = await ServiceCache.StartAsync(client, "/services", "echo");
await SendRoundAsync(cache, requests: 30);

Console.WriteLine("instance-2 stops: it unregisters and closes its session");
await instances[1].DisposeAsync();
await WaitForInstancesAsync(cache, 2);
await SendRoundAsync(cache, requests: 30);

Console.WriteLine("instance-4 starts and registers");
instances.Add(await EchoInstance.StartAsync(peer, "instance-4"));
await WaitForInstancesAsync(cache, 3);
await SendRoundAsync(cache, requests: 30);

foreach (var instance in instances)
    await instance.DisposeAsync();

// Sends `requests` requests, each to the instance the cache picks, and prints how many each instance answered.
static async Task SendRoundAsync(ServiceCache cache, int requests)
{
    var answered = new SortedDictionary<string, int>(StringComparer.Ordinal);
    for (var i = 0; i < requests; i++)
    {
        var target = cache.PickRoundRobin() ?? throw new InvalidOperationException("no echo instance is registered");
        var answer = await EchoInstance.AskAsync(target);
        answered[answer] = answered.GetValueOrDefault(answer) + 1;
    }

    Console.WriteLine($"{requests} requests over {cache.Instances.Count} instances: {string.Join(", ", answered.Select(a => $"{a.Key} {a.Value}"))}");
}

static async Task WaitForInstancesAsync(ServiceCache cache, int count)
{
    var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    void OnChanged(IReadOnlyList<ServiceInstance> now)
    {
        if (now.Count == count)
            reached.TrySetResult();
    }

    cache.Changed += OnChanged;
    try
    {
        OnChanged(cache.Instances); // it may have changed before the handler was added
        await reached.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Console.WriteLine($"the cache sees {string.Join(", ", cache.Instances.Select(s => s.Id).Order())}");
    }
    finally
    {
        cache.Changed -= OnChanged;
    }
}

/// <summary>One instance of the service: a TCP listener that answers each connection with its id, and its registration.</summary>
internal sealed class EchoInstance : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly IZooKeeper _session;
    private readonly ServiceRegistration _registration;
    private readonly Task _serving;

    private EchoInstance(TcpListener listener, IZooKeeper session, ServiceRegistration registration, string id)
    {
        _listener = listener;
        _session = session;
        _registration = registration;
        _serving = ServeAsync(id);
    }

    public static async Task<EchoInstance> StartAsync(ZkPeer peer, string id)
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var session = await peer.ConnectAsync();
        var registration = await session.RegisterAsync("/services", new ServiceInstance("echo", id, "127.0.0.1", port));
        Console.WriteLine($"{id} listens on 127.0.0.1:{port} and registers as {registration.Path}");
        return new EchoInstance(listener, session, registration, id);
    }

    public static async Task<string> AskAsync(ServiceInstance target)
    {
        using var connection = new TcpClient();
        await connection.ConnectAsync(target.Address, target.Port);
        using var reader = new StreamReader(connection.GetStream(), Encoding.UTF8);
        return await reader.ReadLineAsync() ?? throw new IOException($"{target.Id} closed without answering");
    }

    private async Task ServeAsync(string id)
    {
        var answer = Encoding.UTF8.GetBytes(id + "\n");
        try
        {
            while (true)
            {
                using var connection = await _listener.AcceptTcpClientAsync();
                await connection.GetStream().WriteAsync(answer);
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or InvalidOperationException)
        {
            // The listener stopped: during an accept (SocketException, ObjectDisposedException) or between two, when
            // the next accept finds it no longer listening (InvalidOperationException).
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _registration.DisposeAsync();
        await _session.DisposeAsync();
        _listener.Stop();
        await _serving;
    }
}
