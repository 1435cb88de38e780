using Xunit.Abstractions;
using Zk.Embedded.Api;
using Zk.Embedded.Recipes;
using Zk.Embedded.Tests.Support;

namespace Zk.Embedded.Tests.Recipes;

/// <summary>
/// Curator's x-discovery (Debian's libcurator-discovery, in a JVM) and our service discovery on the same base path:
/// each sees the other's registrations with address, port and payload, and a departure from either side.
/// </summary>
[Collection(RunsAlone.Name)]
public sealed class CuratorDiscoveryInteropTests(ITestOutputHelper output)
{
    private const string BasePath = "/mixed/services";

    [SkippableFact]
    public Task Curator_and_an_in_process_session_see_each_others_instances_on_our_peer() => CuratorProbe.OnOurPeerAsync(ShareRegistryAsync);

    [SkippableFact]
    public Task Curator_and_the_wire_client_see_each_others_instances_on_Apache_ZooKeeper() => CuratorProbe.OnApacheZooKeeperAsync(ShareRegistryAsync);

    private async Task ShareRegistryAsync(IZooKeeper zk, string connectString)
    {
        await using var curator = await CuratorProbe.StartProbeAsync("CuratorDiscoveryProbe", connectString, BasePath);
        try
        {
            await using var cache = await ServiceCache.StartAsync(zk, BasePath, "echo");
            var views = new ValueRecorder<string>("views of echo");
            cache.Changed += instances => views.Add(string.Join(",", instances.Select(Describe)));

            await curator.SendAsync("register echo c1 9001 z1", "registered c1");
            await views.WaitForAsync(v => v.Contains("c1@127.0.0.1:9001/z1"), "Curator's instance c1 in our cache, with its payload");

            await using (await zk.RegisterAsync(BasePath, new ServiceInstance("echo", "d1", "127.0.0.1", 9002, new Dictionary<string, string> { ["zone"] = "z2" })))
            {
                await views.WaitForAsync(v => v.Contains("c1@127.0.0.1:9001/z1,d1@127.0.0.1:9002/z2"), "both instances in our cache");
                Assert.Equal("instances c1@127.0.0.1:9001/z1,d1@127.0.0.1:9002/z2", await curator.SendAsync("list echo", "instances "));

                await curator.SendAsync("unregister echo c1", "unregistered c1");
                await views.WaitForAsync(v => v.Count > 0 && v[^1] == "d1@127.0.0.1:9002/z2", "only our instance after Curator's left");
            }

            Assert.Equal("instances", await curator.SendAsync("list echo", "instances")); // answer lines are trimmed
        }
        finally
        {
            output.WriteLine(curator.Transcript);
        }
    }

    private static string Describe(ServiceInstance instance) =>
        $"{instance.Id}@{instance.Address}:{instance.Port}/{string.Join(";", instance.Payload?.Select(p => p.Key == "zone" ? p.Value : $"{p.Key}={p.Value}") ?? [])}";
}
