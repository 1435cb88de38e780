using System.Text;
using Xunit.Abstractions;
using Zk.Embedded.Api;
using Zk.Embedded.Recipes;
using Zk.Embedded.Tests.Support;

namespace Zk.Embedded.Tests.Recipes;

/// <summary>Group membership: ephemeral members with payloads, a view every member keeps current, leaving and dying.</summary>
public sealed class GroupMemberTests(ITestOutputHelper output) : RecipePeerTest
{
    [Fact]
    public async Task Members_joining_at_once_all_end_with_the_same_view_and_payload_changes_show()
    {
        var seed = RecipeTestKit.Next(output);
        var order = Enumerable.Range(0, 8).OrderBy(_ => new Random(seed).Next()).ToArray();
        await using var sessions = await ConnectManyAsync(order.Length);
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
    }

    [Fact]
    public async Task A_member_that_leaves_or_whose_session_expires_leaves_every_view()
    {
        await using var a = await Peer.ConnectAsync();
        await using var b = await Peer.ConnectAsync();
        await using var c = await Peer.ConnectAsync();
        await using var watcher = await GroupMember.JoinAsync(a, "/group", "watcher");
        var views = new ValueRecorder<string>("views");
        watcher.MembersChanged += members => views.Add(string.Join(",", members.Keys.Order(StringComparer.Ordinal)));
        var leaving = await GroupMember.JoinAsync(b, "/group", "leaving");
        await using var dying = await GroupMember.JoinAsync(c, "/group", "dying");
        await views.WaitForAsync(v => v.Contains("dying,leaving,watcher"), "all three");

        await leaving.DisposeAsync();
        await views.WaitForAsync(v => v[^1] == "dying,watcher", "'leaving' gone once it left");
        await Peer.ExpireAsync(c);
        await views.WaitForAsync(v => v[^1] == "watcher", "'dying' gone once its session expired");
        await ZkTest.ThrowsAsync(ZkErrorCode.NodeExists, async () => await GroupMember.JoinAsync(b, "/group", "watcher"));
    }
}
