using Zk.Embedded.Api;
using Zk.Embedded.Recipes;
using Zk.Embedded.Tests.Support;

namespace Zk.Embedded.Tests.Recipes;

/// <summary>Service discovery: registrations with payload, a cache that follows them, picks that spread load.</summary>
public sealed class ServiceDiscoveryTests : RecipePeerTest
{
    [Fact]
    public async Task A_client_sees_registered_instances_with_their_payload_and_round_robin_spreads_picks_evenly()
    {
        await using var client = await Peer.ConnectAsync();
        await using var cache = await ServiceCache.StartAsync(client, "/services", "billing");
        var seen = new ValueRecorder<int>("instance counts");
        cache.Changed += instances => seen.Add(instances.Count);
        await using var sessions = await ConnectManyAsync(3);
        for (var i = 0; i < sessions.Count; i++)
        {
            await sessions[i].RegisterAsync("/services", new ServiceInstance("billing", $"i{i}", "10.0.0." + i, 8080 + i, new Dictionary<string, string> { ["zone"] = $"z{i % 2}" }));
        }

        await seen.WaitForAsync(counts => counts.Contains(3), "three instances");
        Assert.Equal(["i0", "i1", "i2"], cache.Instances.Select(i => i.Id));
        Assert.Equal("z1", cache.Instances[1].Payload!["zone"]);
        Assert.Equal(8082, cache.Instances[2].Port);
        var picks = Enumerable.Range(0, 30).Select(_ => cache.PickRoundRobin()!.Id).GroupBy(id => id).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(new Dictionary<string, int> { ["i0"] = 10, ["i1"] = 10, ["i2"] = 10 }, picks);
        Assert.Contains(cache.PickRandom()!.Id, new[] { "i0", "i1", "i2" });
    }

    [Fact]
    public async Task An_instance_whose_session_expires_or_that_unregisters_disappears_from_the_view()
    {
        await using var client = await Peer.ConnectAsync();
        await using var dying = await Peer.ConnectAsync();
        await using var leaving = await Peer.ConnectAsync();
        await using var cache = await ServiceCache.StartAsync(client, "/services", "search");
        var seen = new ValueRecorder<string>("views");
        cache.Changed += instances => seen.Add(string.Join(",", instances.Select(i => i.Id)));
        await dying.RegisterAsync("/services", new ServiceInstance("search", "dying", "h1", 1));
        var registration = await leaving.RegisterAsync("/services", new ServiceInstance("search", "leaving", "h2", 2));
        await seen.WaitForAsync(views => views.Contains("dying,leaving"), "both instances");

        await Peer.ExpireAsync(dying);
        await seen.WaitForAsync(views => views.Count > 0 && views[^1] == "leaving", "only 'leaving' after the other's session expired");
        await registration.DisposeAsync();
        await seen.WaitForAsync(views => views.Count > 0 && views[^1] == "", "no instance after unregistering");
        Assert.Null(cache.PickRoundRobin());
        await ZkTest.ThrowsAsync(ZkErrorCode.NodeExists, async () =>
        {
            await leaving.RegisterAsync("/services", new ServiceInstance("search", "twice", "h", 1));
            await leaving.RegisterAsync("/services", new ServiceInstance("search", "twice", "h", 1));
        });
    }

    [Fact]
    public async Task Least_recently_used_picks_cycle_through_instances_and_send_the_next_request_to_a_newcomer()
    {
        await using var client = await Peer.ConnectAsync();
        await using var cache = await ServiceCache.StartAsync(client, "/services", "lru");
        var seen = new ValueRecorder<int>("instance counts");
        cache.Changed += instances => seen.Add(instances.Count);
        await using var a = await Peer.ConnectAsync();
        await using var b = await Peer.ConnectAsync();
        await a.RegisterAsync("/services", new ServiceInstance("lru", "a", "h", 1));
        var leaving = await b.RegisterAsync("/services", new ServiceInstance("lru", "b", "h", 2));
        await seen.WaitForAsync(counts => counts.Contains(2), "two instances");
        Assert.Equal(["a", "b", "a", "b"], Enumerable.Range(0, 4).Select(_ => cache.PickLeastRecentlyUsed()!.Id));

        await using var c = await Peer.ConnectAsync();
        await c.RegisterAsync("/services", new ServiceInstance("lru", "c", "h", 3));
        await seen.WaitForAsync(counts => counts.Contains(3), "the newcomer");
        Assert.Equal(["c", "a", "b", "c"], Enumerable.Range(0, 4).Select(_ => cache.PickLeastRecentlyUsed()!.Id));

        await leaving.DisposeAsync();
        await seen.WaitForAsync(counts => counts.Count > 0 && counts[^1] == 2, "b gone");
        Assert.Equal(["a", "c", "a"], Enumerable.Range(0, 3).Select(_ => cache.PickLeastRecentlyUsed()!.Id));
    }
}
