namespace Zk.Embedded.Tests.Interop;

/// <summary>The C client's cli_mt (libzookeeper-mt), commands on stdin, against an in-process peer.</summary>
public sealed class CliMtTests
{
    private static readonly TimeSpan StepDeadline = TimeSpan.FromSeconds(15);

    [SkippableFact]
    public async Task Cli_mt_creates_sets_gets_lists_and_deletes_a_node()
    {
        InteropTools.RequireFiles(InteropTools.CliMt);
        await using var peer = await ZkPeer.StartAsync(new ZkPeerOptions { ClientPort = 0 });
        var endPoint = peer.ClientEndPoint!;
        await using var cli = ExternalProcess.Start(InteropTools.CliMt, [$"{endPoint.Address}:{endPoint.Port}"]);

        // cli_mt reads commands while it connects and answers each asynchronously, so each step waits for its answer.
        await cli.WaitForOutputAsync(() => cli.StdErr.Contains("state = CONNECTED_STATE", StringComparison.Ordinal) || cli.StdOut.Contains("state = CONNECTED_STATE", StringComparison.Ordinal), "a connected session", StepDeadline);
        await StepAsync(cli, "create /mt", "[/mt]: rc = 0\n\tname = /mt\n");
        await StepAsync(cli, "set /mt hello", "/mt: rc = 0 Stat:");
        await StepAsync(cli, "get /mt", "/mt: rc = 0\n value_len = 5\nhello\n");
        await StepAsync(cli, "create +s /mt/s-", "name = /mt/s-0000000000");
        await StepAsync(cli, "ls /mt", "/mt: rc = 0\n\ts-0000000000\n");
        await StepAsync(cli, "delete /mt", "/mt: rc = -111\n");
        await StepAsync(cli, "delete /mt/s-0000000000", "/mt/s-0000000000: rc = 0\n");
        await StepAsync(cli, "delete /mt", "/mt: rc = 0\n");
        await StepAsync(cli, "get /mt", "/mt: rc = -101\n");

        await using var local = await peer.ConnectAsync();
        Assert.Null(await local.ExistsAsync("/mt"));
        await cli.WriteLineAsync("quit");
        await cli.WaitForExitAsync(StepDeadline);
    }

    /// <summary>Sends one command and waits for <paramref name="expected"/> in what cli_mt prints after it (on either stream).</summary>
    private static async Task StepAsync(ExternalProcess cli, string command, string expected)
    {
        var (outFrom, errFrom) = (cli.StdOut.Length, cli.StdErr.Length);
        await cli.WriteLineAsync(command);
        await cli.WaitForOutputAsync(
            () => cli.StdOut[outFrom..].Contains(expected, StringComparison.Ordinal) || cli.StdErr[errFrom..].Contains(expected, StringComparison.Ordinal),
            $"'{command}' to print \"{expected.Replace("\n", "\\n", StringComparison.Ordinal).Replace("\t", "\\t", StringComparison.Ordinal)}\"",
            StepDeadline);
    }
}
