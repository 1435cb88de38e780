// Active/standby failover of a worker with the leader latch: two workers contend, the active one writes to a shared
// register guarded by its fencing token; when the active one's process dies (here: its session closes), the standby
// is elected and takes over, and the register refuses any late write of the old leader.
// Run: dotnet run --project samples/Failover
using Zk.Embedded;
using Zk.Embedded.Recipes;

await using var peer = await ZkPeer.StartAsync(new ZkPeerOptions());
var register = new FencedRegister();

var activeSession = await peer.ConnectAsync();
await using var standbySession = await peer.ConnectAsync();
await using var active = LeaderLatch.Start(activeSession, "/service/worker", "worker-A");
var activeTerm = await active.WaitForLeadershipAsync();
Console.WriteLine($"worker-A is active (token 0x{activeTerm.FencingToken:x})");
await using var standby = LeaderLatch.Start(standbySession, "/service/worker", "worker-B");
standby.Elected += term => Console.WriteLine($"worker-B elected (token 0x{term.FencingToken:x})");
Console.WriteLine($"worker-B is standby: leads = {standby.HasLeadership}");
Console.WriteLine($"worker-A writes: {(register.TryWrite(activeTerm.FencingToken, "A1") ? "accepted" : "refused")}");

Console.WriteLine("worker-A's process dies: its session ends");
await activeSession.CloseAsync();

var standbyTerm = await standby.WaitForLeadershipAsync();
Console.WriteLine($"worker-B takes over and writes: {(register.TryWrite(standbyTerm.FencingToken, "B1") ? "accepted" : "refused")}");
Console.WriteLine($"a late write of worker-A (paused, not dead): {(register.TryWrite(activeTerm.FencingToken, "A2") ? "accepted" : "refused")}");
Console.WriteLine($"register: {register}");

/// <summary>The guarded resource: refuses a token below the largest it has seen.</summary>
internal sealed class FencedRegister
{
    private long _largest = long.MinValue;
    private string _value = "";

    public bool TryWrite(long token, string value)
    {
        if (token < _largest)
        {
            return false;
        }

        _largest = token;
        _value = value;
        return true;
    }

    public override string ToString() => $"{_value} (token 0x{_largest:x})";
}
