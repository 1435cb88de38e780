using System.CommandLine;

namespace Zk.Server;

/// <summary>
/// The zk program's command line (System.CommandLine): <c>start</c>, <c>cli</c>, <c>dump-log</c>,
/// <c>dump-snapshot</c>, <c>help</c>. Usage errors print what is wrong and exit with code 2, as before.
/// </summary>
internal static class ZkCommands
{
    /// <summary>Parses and runs; the exit code is the command's, or 2 for a usage error.</summary>
    public static async Task<int> RunAsync(string[] args)
    {
        var root = Create();
        // Response files (@file) off: a znode path or data starting with '@' is a word, not a file to expand.
        var parsed = root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null, EnablePosixBundling = false });
        if (parsed.Errors.Count > 0)
        {
            foreach (var error in parsed.Errors)
            {
                await Console.Error.WriteLineAsync($"zk: {error.Message}").ConfigureAwait(false);
            }

            await Console.Error.WriteLineAsync("Run 'zk --help' for usage.").ConfigureAwait(false);
            return 2;
        }

        // The program handles Ctrl+C and SIGTERM itself (zk start stops the peer cleanly), and reports its own errors.
        var invocation = new InvocationConfiguration { ProcessTerminationTimeout = null, EnableDefaultExceptionHandler = false };
        return await parsed.InvokeAsync(invocation).ConfigureAwait(false);
    }

    private static RootCommand Create()
    {
        var root = new RootCommand("Zk.Embedded's zk program: a ZooKeeper peer, a zkCli-style shell, and dumps of its files.");

        var config = new Argument<string?>("zoo.cfg") { Arity = ArgumentArity.ZeroOrOne, Description = "the config file; none: 127.0.0.1:2181, data in ./zkdata" };
        var start = new Command("start", "run a peer until Ctrl+C or SIGTERM (exit 1 if it stops serving writes, 2 for a bad config or damaged files)") { config };
        start.SetAction((result, _) => Program.StartAsync(result.GetValue(config)));

        var server = new Option<string>("-server") { Description = "host:port[,host:port...][/chroot]", DefaultValueFactory = _ => "localhost:2181" };
        var words = new Argument<string[]>("command") { Arity = ArgumentArity.ZeroOrMore, Description = "a zkCli command to run and exit with its code; none: an interactive shell" };
        var cli = new Command("cli", "a zkCli-style shell (exit 0 done, 1 the command failed, 2 usage or no connection)") { server, words };
        cli.SetAction((result, _) => Program.CliAsync(result.GetValue(server)!, result.GetValue(words) ?? []));

        var dataLogDir = new Argument<string>("dataLogDir") { Description = "the txn log's directory of a stopped peer" };
        var dumpLog = new Command("dump-log", "print every txn of a stopped peer's log") { dataLogDir };
        dumpLog.SetAction(result => Program.Dump(() => Zk.Embedded.Storage.StorageDump.DumpLog(result.GetValue(dataLogDir)!, Console.Out)));

        var file = new Argument<string>("file") { Description = "a snapshot file" };
        var dumpSnapshot = new Command("dump-snapshot", "print a snapshot's sessions and znodes") { file };
        dumpSnapshot.SetAction(result => Program.Dump(() => Zk.Embedded.Storage.StorageDump.DumpSnapshot(result.GetValue(file)!, Console.Out)));

        var help = new Command("help", "this text");
        help.SetAction(_ => root.Parse("--help").Invoke());

        root.Subcommands.Add(start);
        root.Subcommands.Add(cli);
        root.Subcommands.Add(dumpLog);
        root.Subcommands.Add(dumpSnapshot);
        root.Subcommands.Add(help);
        return root;
    }
}
