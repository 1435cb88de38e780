using Zk.Embedded.Wire.Client;
using Zk.Server.Cli;

namespace Zk.Embedded.Tests.Cli;

/// <summary>zk cli as users run it: the shell over the wire client, against a peer's client port.</summary>
public sealed class ZkCliOverWireTests
{
    [Fact]
    public async Task The_shell_over_the_wire_client_creates_and_reads_a_node_on_a_peer()
    {
        await using var peer = await ZkPeer.StartAsync(new ZkPeerOptions { ClientPort = 0 });
        var output = new StringWriter();
        var errors = new StringWriter();
        var server = $"127.0.0.1:{peer.ClientEndPoint!.Port}";
        var shell = new ZkShell(
            async (target, watcher) => await ZkClient.ConnectAsync(target, new ZkClientOptions { DefaultWatcher = watcher }),
            server,
            output,
            errors);
        await shell.ConnectAsync();
        try
        {
            Assert.Equal(ZkShell.Ok, await shell.RunAsync("create /over-wire 'two words'"));
            Assert.Equal(ZkShell.Ok, await shell.RunAsync("get /over-wire"));
            Assert.Equal(ZkShell.Failed, await shell.RunAsync("delete /missing"));
            Assert.Contains("two words\n", output.ToString().Replace("\r\n", "\n", StringComparison.Ordinal), StringComparison.Ordinal);
            Assert.Equal("Created /over-wire\nNode does not exist: /missing\n", errors.ToString().Replace("\r\n", "\n", StringComparison.Ordinal));
            Assert.StartsWith($"[zk: {server}(CONNECTED) 3] ", shell.Prompt, StringComparison.Ordinal);
        }
        finally
        {
            await shell.DisposeAsync();
        }
    }
}
