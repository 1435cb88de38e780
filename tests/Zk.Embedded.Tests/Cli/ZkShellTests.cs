using Zk.Embedded.Api;
using Zk.Server.Cli;

namespace Zk.Embedded.Tests.Cli;

/// <summary>The zk shell speaks zkCli: same commands, same output, same messages on stderr, usable exit codes.</summary>
public sealed class ZkShellTests : IAsyncLifetime
{
    private readonly StringWriter _out = new();
    private readonly StringWriter _err = new();
    private ZkPeer _peer = null!;
    private ZkShell _shell = null!;

    public async Task InitializeAsync()
    {
        _peer = await ZkPeer.StartAsync(new ZkPeerOptions());
        _shell = new ZkShell(async (_, watcher) => await _peer.ConnectAsync(new ZkSessionOptions { DefaultWatcher = watcher }), "local", _out, _err);
        await _shell.ConnectAsync();
        // zkCli prints the session's SyncConnected event on connect; the tests start after it.
        // The shell prints events from the session's thread under lock(output); read under the same lock.
        await Support.Eventually.TrueAsync(() => Output().Contains("type:None", StringComparison.Ordinal), "the SyncConnected event");
        Assert.Contains("WatchedEvent state:SyncConnected type:None path:null", Output(), StringComparison.Ordinal);
    }

    public async Task DisposeAsync()
    {
        await _shell.DisposeAsync();
        await _peer.DisposeAsync();
    }

    private async Task<(int Code, string Out, string Err)> RunAsync(string line)
    {
        lock (_out)
        {
            _out.GetStringBuilder().Clear();
        }

        _err.GetStringBuilder().Clear();
        var code = await _shell.RunAsync(line);
        return (code, Output().Replace("\r\n", "\n", StringComparison.Ordinal), _err.ToString().Replace("\r\n", "\n", StringComparison.Ordinal));
    }

    private string Output()
    {
        lock (_out)
        {
            return _out.ToString();
        }
    }

    [Fact]
    public async Task Create_ls_get_set_and_delete_print_what_zkCli_prints()
    {
        Assert.Equal((0, "", "Created /app\n"), await RunAsync("create /app hello"));
        Assert.Equal((0, "", "Created /app/s-0000000000\n"), await RunAsync("create -s /app/s- x"));
        Assert.Equal((0, "", "Created /app/e\n"), await RunAsync("create -e /app/e"));
        Assert.Equal((0, "[e, s-0000000000]\n", ""), await RunAsync("ls /app"));
        Assert.Equal((0, "[app, zookeeper]\n", ""), await RunAsync("ls /"));
        Assert.Equal((0, "hello\n", ""), await RunAsync("get /app"));
        Assert.Equal((0, "null\n", ""), await RunAsync("get /app/e")); // created without data, as zkCli prints it
        Assert.Equal((0, "", ""), await RunAsync("set /app 'hello world'"));
        var (code, get, _) = await RunAsync("get -s /app");
        Assert.Equal(0, code);
        Assert.StartsWith("hello world\ncZxid = 0x", get, StringComparison.Ordinal);
        Assert.Contains("\ndataVersion = 1\n", get, StringComparison.Ordinal);
        Assert.Contains("\nnumChildren = 2\n", get, StringComparison.Ordinal);
        Assert.EndsWith("\n", get, StringComparison.Ordinal);
        Assert.Equal((0, "/app\n/app/e\n/app/s-0000000000\n", ""), await RunAsync("ls -R /app"));
        Assert.Equal((0, "", ""), await RunAsync("delete /app/e"));
        Assert.Equal((0, "", ""), await RunAsync("deleteall /app"));
        Assert.Equal((0, "[zookeeper]\n", ""), await RunAsync("ls /"));
    }

    [Fact]
    public async Task Errors_print_zkCli_messages_and_exit_1_and_a_bad_command_exits_2()
    {
        Assert.Equal((1, "", "Node does not exist: /missing\n"), await RunAsync("get /missing"));
        await RunAsync("create /a");
        Assert.Equal((1, "", "Node already exists: /a\n"), await RunAsync("create /a"));
        Assert.Equal((1, "", "version No is not valid : /a\n"), await RunAsync("set -v 7 /a x"));
        await RunAsync("create /a/b");
        Assert.Equal((1, "", "Node not empty: /a\n"), await RunAsync("delete /a"));
        var (code, _, err) = await RunAsync("get");
        Assert.Equal(2, code);
        Assert.Contains("get [-s] [-w] path", err, StringComparison.Ordinal);
        Assert.Equal(2, (await RunAsync("frobnicate /a")).Code);
    }

    [Fact]
    public async Task Acls_auth_and_whoami_read_as_in_zkCli()
    {
        await RunAsync("create /acl x");
        Assert.Equal((0, "'world,'anyone\n: cdrwa\n", ""), await RunAsync("getAcl /acl"));
        Assert.Equal((0, "", ""), await RunAsync("setAcl /acl world:anyone:r"));
        Assert.Equal((0, "'world,'anyone\n: r\n", ""), await RunAsync("getAcl /acl"));
        Assert.Equal((1, "", "Insufficient permission : /acl\n"), await RunAsync("set /acl y"));
        Assert.Equal((0, "", ""), await RunAsync("addauth digest alice:secret"));
        Assert.Equal((0, "Auth scheme: User\nip: 127.0.0.1\ndigest: alice\n", ""), await RunAsync("whoami"));
        Assert.Equal((0, "Sync is OK\n", ""), await RunAsync("sync /acl"));
        Assert.Equal((0, "2\n", ""), await RunAsync("getAllChildrenNumber /zookeeper"));
    }

    [Fact]
    public async Task A_watch_set_from_the_shell_prints_the_event_as_zkCli_does()
    {
        await RunAsync("create /w 1");
        await RunAsync("get -w /w");
        await RunAsync("set /w 2");
        await Support.Eventually.TrueAsync(
            () => Output().Contains("WatchedEvent state:SyncConnected type:NodeDataChanged path:/w", StringComparison.Ordinal),
            "the shell to print the NodeDataChanged event");
        Assert.Contains("WATCHER::", Output(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task History_and_redo_repeat_earlier_commands()
    {
        await RunAsync("create /h 1");
        await RunAsync("get /h");
        var (_, history, _) = await RunAsync("history");
        Assert.Equal("0 - create /h 1\n1 - get /h\n", history);
        Assert.Equal((0, "1\n", ""), await RunAsync("redo 1"));
    }

    [Theory]
    [InlineData("create /a 'two words'", new[] { "create", "/a", "two words" })]
    [InlineData("set /a \"x y\"  ", new[] { "set", "/a", "x y" })]
    [InlineData("  ls   / ", new[] { "ls", "/" })]
    [InlineData("create /e ''", new[] { "create", "/e", "" })]
    public void Tokenize_keeps_quoted_words_whole(string line, string[] expected) =>
        Assert.Equal(expected, ZkShell.Tokenize(line));
}
