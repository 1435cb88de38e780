using System.Diagnostics;
using Zk.Embedded.Tests.Storage;

namespace Zk.Embedded.Tests.Cli;

/// <summary>The zk program's arguments (System.CommandLine), run as the real process: help, usage errors exit 2.</summary>
public sealed class ZkCommandLineTests
{
    private static (int Code, string Output, string Error) Zk(params string[] args)
    {
        var info = new ProcessStartInfo(ZkChildProcess.DotnetHost()) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(ZkChildProcess.ServerDll);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEnd();
        Assert.True(process.WaitForExit(TimeSpan.FromSeconds(60)), $"zk {string.Join(' ', args)} did not exit");
        return (process.ExitCode, output.Result, error);
    }

    [Theory]
    [InlineData("help")]
    [InlineData("--help")]
    [InlineData("-h")]
    public void Help_lists_every_command_and_exits_0(string help)
    {
        var (code, output, _) = Zk(help);
        Assert.Equal(0, code);
        foreach (var command in new[] { "start", "cli", "dump-log", "dump-snapshot", "help" })
        {
            Assert.Contains(command, output, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("Required command was not provided")]
    [InlineData("Unrecognized command or argument 'bogus'", "bogus")]
    [InlineData("Required argument missing for command: 'dump-log'", "dump-log")]
    [InlineData("Unrecognized command or argument 'b'", "dump-snapshot", "a", "b")]
    public void A_usage_error_says_what_is_wrong_and_exits_2(string expected, params string[] args)
    {
        var (code, _, error) = Zk(args);
        Assert.Equal(2, code);
        Assert.Contains($"zk: {expected}", error, StringComparison.Ordinal);
        Assert.Contains("zk --help", error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_config_file_stops_start_with_exit_2_naming_it()
    {
        var (code, _, error) = Zk("start", "/nonexistent/zoo.cfg");
        Assert.Equal(2, code);
        Assert.Contains("zk: Could not find", error, StringComparison.Ordinal);
        Assert.Contains("/nonexistent/zoo.cfg", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cli_words_after_the_server_dashes_included_go_to_the_shell()
    {
        await using var peer = await ZkPeer.StartAsync(new ZkPeerOptions { ClientPort = 0 });
        var (code, output, error) = Zk("cli", "-server", $"127.0.0.1:{peer.ClientEndPoint!.Port}", "get", "-s", "/zookeeper");
        Assert.True(code == 0, $"expected exit 0, got {code}: {error}");
        Assert.Contains("cZxid = 0x0", output, StringComparison.Ordinal);
    }
}
