using System.Text;
using Xunit.Abstractions;
using Zk.Embedded.Api;
using Zk.Embedded.Recipes;
using Zk.Embedded.Tests.Support;

namespace Zk.Embedded.Tests.Recipes;

/// <summary>Group membership: ephemeral members with payloads, a view every member keeps current, leaving and dying.</summary>
public sealed class GroupMemberTests(ITestOutputHelper output) : IAsyncLifetime
{
    private TestPeer _peer = null!;

    public async Task InitializeAsync() => _peer = await TestPeer.StartAsync();

    public async Task DisposeAsync() => await _peer.DisposeAsync();

    [Fact]
    public async Task Members_joining_at_once_all_end_with_the_same_view_and_payload_changes_show()
    {
        var seed = RecipeTestKit.Next(output);
        var order = Enumerable.Range(0, 8).OrderBy(_ => new Random(seed).Next()).ToArray();
        var sessions = await Task.WhenAll(order.Select(_ => _peer.ConnectAsync()));
        var members = await Task.WhenAll(order.Select((m, i) => GroupMember.JoinAsync(sessions[i], "/group", $"m{m}", Encoding.UTF8.GetBytes($"p{m}")).AsTask()));
        var everyone = Enumerable.Range(0, 8).Select(m => $"m{m}").ToArray();
        foreach (var member in members)
        {
            await Eventually.TrueAsync(() => member.Members.Keys.Order(StringComparer.Ordinal).SequenceEqual(everyone), $"{member.Id} to see all eight members");
        }

        Assert.Equal("p3", Encoding.UTF8.GetString(members[0].Members["m3"].Span));
        var changed = members.Single(m => m.Id == "m5");
        await changed.SetPayloadAsync("busy"u8.ToArray());
        await Eventually.TrueAsync(() => Encoding.UTF8.GetString(members[0].Members["m5"].Span) == "busy", "m5's new payload in another member's view");

        foreach (var member in members)
        {
            await member.DisposeAsync();
        }

        Assert.Empty(await sessions[0].GetChildrenAsync("/group"));
        foreach (var zk in sessions)
        {
            await zk.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_member_that_leaves_or_whose_session_expires_leaves_every_view()
    {
        await using var a = await _peer.ConnectAsync();
        await using var b = await _peer.ConnectAsync();
        await using var c = await _peer.ConnectAsync();
        await using var watcher = await GroupMember.JoinAsync(a, "/group", "watcher");
        var views = new ValueRecorder<string>("views");
        watcher.MembersChanged += members => views.Add(string.Join(",", members.Keys.Order(StringComparer.Ordinal)));
        var leaving = await GroupMember.JoinAsync(b, "/group", "leaving");
        await using var dying = await GroupMember.JoinAsync(c, "/group", "dying");
        await views.WaitForAsync(v => v.Contains("dying,leaving,watcher"), "all three");

        await leaving.DisposeAsync();
        await views.WaitForAsync(v => v[^1] == "dying,watcher", "'leaving' gone once it left");
        await _peer.ExpireAsync(c);
        await views.WaitForAsync(v => v[^1] == "watcher", "'dying' gone once its session expired");
        await ZkTest.ThrowsAsync(ZkErrorCode.NodeExists, async () => await GroupMember.JoinAsync(b, "/group", "watcher"));
    }
}
