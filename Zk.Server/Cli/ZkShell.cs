using System.Globalization;
using System.Text;
using Zk.Embedded.Api;

namespace Zk.Server.Cli;

/// <summary>
/// A zkCli-style shell over any <see cref="IZooKeeper"/>: zkCli's commands, options and output (ZooKeeperMain and
/// the org.apache.zookeeper.cli commands), so scripts written for zkCli read the same. Results go to
/// <c>output</c>, messages zkCli prints on stderr ("Created /a", errors) to <c>errors</c>.
/// </summary>
internal sealed class ZkShell(Func<string, Watcher, Task<IZooKeeper>> connect, string server, TextWriter output, TextWriter errors)
{
    /// <summary>Exit codes as ZooKeeperMain uses them (ExitCode): 0 done, 1 the command failed, 2 a malformed command.</summary>
    public const int Ok = 0;
    public const int Failed = 1;
    public const int Usage = 2;

    private static readonly string[] Commands =
    [
        "ls [-s] [-w] [-R] path", "create [-s] [-e] [-c] [-t ttl] path [data] [acl]", "get [-s] [-w] path", "set [-s] [-v version] path data",
        "stat [-w] path", "delete [-v version] path", "deleteall path", "getAcl [-s] path", "setAcl [-s] [-v version] path acl",
        "addauth scheme auth", "sync path", "addWatch [-m mode] path", "removewatches path [-c|-d|-p|-r|-a] [-l]", "getEphemerals path",
        "getAllChildrenNumber path", "whoami", "history", "redo cmdno", "connect host:port", "close", "quit",
    ];

    private readonly List<string> _history = [];
    private IZooKeeper? _zk;
    private string _server = server;

    public bool Quit { get; private set; }

    /// <summary>The command lines run so far, oldest first (what up/down walk through).</summary>
    public IReadOnlyList<string> History => _history;

    /// <summary>The prompt zkCli shows: <c>[zk: host(CONNECTED) 3] </c>.</summary>
    public string Prompt => $"[zk: {_server}({StateName}) {_history.Count}] ";

    private string StateName => _zk?.State switch
    {
        SessionState.Connected => "CONNECTED",
        SessionState.ConnectedReadOnly => "CONNECTEDREADONLY",
        SessionState.Connecting => "CONNECTING",
        SessionState.Expired or SessionState.Closed => "CLOSED",
        SessionState.AuthFailed => "AUTH_FAILED",
        _ => "CLOSED",
    };

    public async Task ConnectAsync()
    {
        if (_zk is not null)
        {
            await _zk.DisposeAsync().ConfigureAwait(false);
        }

        _zk = await connect(_server, PrintEvent).ConfigureAwait(false);
    }

    /// <summary>Runs one command line; returns its exit code.</summary>
    public async Task<int> RunAsync(string line)
    {
        var words = Tokenize(line);
        if (words.Count == 0)
        {
            return Ok;
        }

        _history.Add(line);
        try
        {
            return await DispatchAsync(words).ConfigureAwait(false);
        }
        catch (ZkException e)
        {
            errors.WriteLine(CliFormat.Error(e));
            return Failed;
        }
        catch (UsageException e)
        {
            errors.WriteLine(e.Message);
            return Usage;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_zk is not null)
        {
            await _zk.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async Task<int> DispatchAsync(List<string> words)
    {
        var (command, options, args) = Parse(words);
        switch (command)
        {
            case "quit":
                Quit = true;
                return Ok;
            case "history":
                for (var i = Math.Max(0, _history.Count - 11); i < _history.Count - 1; i++)
                {
                    output.WriteLine($"{i} - {_history[i]}");
                }

                return Ok;
            case "redo":
                var index = Arg(args, 0, "redo cmdno");
                if (!int.TryParse(index, CultureInfo.InvariantCulture, out var n) || n < 0 || n >= _history.Count - 1)
                {
                    throw new UsageException("Command index out of range");
                }

                _history.RemoveAt(_history.Count - 1);
                return await RunAsync(_history[n]).ConfigureAwait(false);
            case "connect":
                _server = Arg(args, 0, "connect host:port");
                await ConnectAsync().ConfigureAwait(false);
                return Ok;
            case "close":
                if (_zk is not null)
                {
                    await _zk.CloseAsync().ConfigureAwait(false);
                }

                return Ok;
            case "help":
                errors.WriteLine("ZooKeeper -server host:port cmd args");
                foreach (var usage in Commands)
                {
                    errors.WriteLine("\t" + usage);
                }

                return Ok;
        }

        var zk = _zk ?? throw new UsageException("Not connected");
        switch (command)
        {
            case "ls":
                return await ListAsync(zk, options, Arg(args, 0, "ls [-s] [-w] [-R] path")).ConfigureAwait(false);
            case "create":
                return await CreateAsync(zk, options, args).ConfigureAwait(false);
            case "get":
            {
                var path = Arg(args, 0, "get [-s] [-w] path");
                var read = await zk.GetDataAsync(path, options.ContainsKey("w") ? PrintEvent : null).ConfigureAwait(false);
                // As zkCli: "null" for a node created without data, an empty line for empty data.
                output.WriteLine(read.DataIsNull ? "null" : Encoding.UTF8.GetString(read.Data.Span));
                if (options.ContainsKey("s"))
                {
                    CliFormat.PrintStat(output, read.Stat);
                }

                return Ok;
            }

            case "set":
            {
                var path = Arg(args, 0, "set [-s] [-v version] path data");
                var data = Encoding.UTF8.GetBytes(Arg(args, 1, "set [-s] [-v version] path data"));
                var stat = await zk.SetDataAsync(path, data, Version(options)).ConfigureAwait(false);
                if (options.ContainsKey("s"))
                {
                    CliFormat.PrintStat(output, stat);
                }

                return Ok;
            }

            case "stat":
            {
                var path = Arg(args, 0, "stat [-w] path");
                var stat = await zk.ExistsAsync(path, options.ContainsKey("w") ? PrintEvent : null).ConfigureAwait(false)
                    ?? throw new ZkException(ZkErrorCode.NoNode, path);
                CliFormat.PrintStat(output, stat);
                return Ok;
            }

            case "delete":
                await zk.DeleteAsync(Arg(args, 0, "delete [-v version] path"), Version(options)).ConfigureAwait(false);
                return Ok;
            case "deleteall":
                await DeleteAllAsync(zk, Arg(args, 0, "deleteall path")).ConfigureAwait(false);
                return Ok;
            case "getAcl":
            {
                var (acl, stat) = await zk.GetAclAsync(Arg(args, 0, "getAcl [-s] path")).ConfigureAwait(false);
                foreach (var entry in acl)
                {
                    output.WriteLine($"{CliFormat.JuteId(entry.Id)}\n: {CliFormat.Perms(entry.Perms)}");
                }

                if (options.ContainsKey("s"))
                {
                    CliFormat.PrintStat(output, stat);
                }

                return Ok;
            }

            case "setAcl":
            {
                var path = Arg(args, 0, "setAcl [-s] [-v version] path acl");
                var stat = await zk.SetAclAsync(path, ParseAcl(Arg(args, 1, "setAcl [-s] [-v version] path acl")), Version(options)).ConfigureAwait(false);
                if (options.ContainsKey("s"))
                {
                    CliFormat.PrintStat(output, stat);
                }

                return Ok;
            }

            case "addauth":
                await zk.AddAuthInfoAsync(Arg(args, 0, "addauth scheme auth"), Encoding.UTF8.GetBytes(args.Count > 1 ? args[1] : "")).ConfigureAwait(false);
                return Ok;
            case "sync":
                await zk.SyncAsync(Arg(args, 0, "sync path")).ConfigureAwait(false);
                output.WriteLine("Sync is OK");
                return Ok;
            case "addWatch":
            {
                var mode = options.GetValueOrDefault("m") switch
                {
                    null or "persistentRecursive" => AddWatchMode.PersistentRecursive,
                    "persistent" => AddWatchMode.Persistent,
                    var other => throw new UsageException($"Unsupported mode: {other}"),
                };
                await zk.AddWatchAsync(Arg(args, 0, "addWatch [-m mode] path"), PrintEvent, mode).ConfigureAwait(false);
                return Ok;
            }

            case "removewatches":
            {
                var type = options.ContainsKey("c") ? WatcherType.Children
                    : options.ContainsKey("d") ? WatcherType.Data
                    : options.ContainsKey("p") ? WatcherType.Persistent
                    : options.ContainsKey("r") ? WatcherType.PersistentRecursive
                    : WatcherType.Any;
                await zk.RemoveAllWatchesAsync(Arg(args, 0, "removewatches path [-c|-d|-p|-r|-a] [-l]"), type, options.ContainsKey("l")).ConfigureAwait(false);
                return Ok;
            }

            case "getEphemerals":
                output.WriteLine("[" + string.Join(", ", await zk.GetEphemeralsAsync(args.Count > 0 ? args[0] : "/").ConfigureAwait(false)) + "]");
                return Ok;
            case "getAllChildrenNumber":
                output.WriteLine(await zk.GetAllChildrenNumberAsync(Arg(args, 0, "getAllChildrenNumber path")).ConfigureAwait(false));
                return Ok;
            case "whoami":
                output.WriteLine("Auth scheme: User");
                foreach (var info in await zk.WhoAmIAsync().ConfigureAwait(false))
                {
                    output.WriteLine($"{info.AuthScheme}: {info.User}");
                }

                return Ok;
            default:
                errors.WriteLine("ZooKeeper -server host:port cmd args");
                foreach (var usage in Commands)
                {
                    errors.WriteLine("\t" + usage);
                }

                return Usage;
        }
    }

    private async Task<int> ListAsync(IZooKeeper zk, Dictionary<string, string?> options, string path)
    {
        var watcher = options.ContainsKey("w") ? PrintEvent : (Watcher?)null;
        if (options.ContainsKey("R"))
        {
            // ZKUtil.visitSubTreeDFS: the node, then each subtree, children in sorted order.
            await VisitAsync(path).ConfigureAwait(false);
            return Ok;

            async Task VisitAsync(string node)
            {
                output.WriteLine(node);
                var children = (await zk.GetChildrenAsync(node, watcher).ConfigureAwait(false)).Order(StringComparer.Ordinal);
                foreach (var child in children)
                {
                    await VisitAsync(node == "/" ? "/" + child : node + "/" + child).ConfigureAwait(false);
                }
            }
        }

        var (names, stat) = await zk.GetChildrenWithStatAsync(path, watcher).ConfigureAwait(false);
        output.WriteLine("[" + string.Join(", ", names.Order(StringComparer.Ordinal)) + "]");
        if (options.ContainsKey("s"))
        {
            CliFormat.PrintStat(output, stat);
        }

        return Ok;
    }

    private async Task<int> CreateAsync(IZooKeeper zk, Dictionary<string, string?> options, List<string> args)
    {
        const string usage = "create [-s] [-e] [-c] [-t ttl] path [data] [acl]";
        var path = Arg(args, 0, usage);
        var sequential = options.ContainsKey("s");
        var ephemeral = options.ContainsKey("e");
        long ttl = -1;
        if (options.TryGetValue("t", out var ttlText) && !long.TryParse(ttlText, CultureInfo.InvariantCulture, out ttl))
        {
            throw new UsageException($"ttl must be a number: {ttlText}");
        }

        if (options.ContainsKey("c") && (sequential || ephemeral || ttl >= 0))
        {
            throw new UsageException("-c cannot be combined with -s, -e or -t");
        }

        var mode = options.ContainsKey("c") ? CreateMode.Container
            : ttl >= 0 ? (sequential ? CreateMode.PersistentSequentialWithTtl : CreateMode.PersistentWithTtl)
            : ephemeral ? (sequential ? CreateMode.EphemeralSequential : CreateMode.Ephemeral)
            : sequential ? CreateMode.PersistentSequential : CreateMode.Persistent;
        var data = args.Count > 1 ? Encoding.UTF8.GetBytes(args[1]) : null;
        var acl = args.Count > 2 ? ParseAcl(args[2]) : Acl.OpenUnsafe;
        var created = await zk.CreateAsync(path, data, acl, mode, ttl).ConfigureAwait(false);
        errors.WriteLine($"Created {created}");
        return Ok;
    }

    private static async Task DeleteAllAsync(IZooKeeper zk, string path)
    {
        foreach (var child in await zk.GetChildrenAsync(path).ConfigureAwait(false))
        {
            await DeleteAllAsync(zk, path == "/" ? "/" + child : path + "/" + child).ConfigureAwait(false);
        }

        if (path != "/")
        {
            await zk.DeleteAsync(path).ConfigureAwait(false);
        }
    }

    /// <summary>ZooKeeperMain's AclParser: "scheme:id:perms[,scheme:id:perms...]".</summary>
    private static List<Acl> ParseAcl(string text)
    {
        var acl = new List<Acl>();
        foreach (var part in text.Split(','))
        {
            var first = part.IndexOf(':');
            var last = part.LastIndexOf(':');
            if (first < 0 || last == first || !CliFormat.TryParsePerms(part[(last + 1)..], out var perms))
            {
                throw new UsageException($"{part} does not have the form scheme:id:perm");
            }

            acl.Add(new Acl(perms, new Id(part[..first], part[(first + 1)..last])));
        }

        return acl;
    }

    private static int Version(Dictionary<string, string?> options) =>
        options.TryGetValue("v", out var text)
            ? int.TryParse(text, CultureInfo.InvariantCulture, out var version) ? version : throw new UsageException($"version must be a number: {text}")
            : -1;

    private static string Arg(List<string> args, int index, string usage) =>
        index < args.Count ? args[index] : throw new UsageException(usage);

    /// <summary>Splits the command into the command, its -options (with values for -t, -v, -m) and its arguments.</summary>
    private static (string Command, Dictionary<string, string?> Options, List<string> Args) Parse(List<string> words)
    {
        var options = new Dictionary<string, string?>(StringComparer.Ordinal);
        var args = new List<string>();
        for (var i = 1; i < words.Count; i++)
        {
            var word = words[i];
            if (word.Length >= 2 && word[0] == '-' && !char.IsDigit(word[1]))
            {
                var name = word[1..];
                options[name] = name is "t" or "v" or "m" or "b" && i + 1 < words.Count ? words[++i] : null;
            }
            else
            {
                args.Add(word);
            }
        }

        return (words[0], options, args);
    }

    /// <summary>ZooKeeperMain.MyCommandOptions.parseCommand: words split on spaces, '...' and "..." kept whole.</summary>
    internal static List<string> Tokenize(string line)
    {
        var words = new List<string>();
        var current = new StringBuilder();
        char? quote = null;
        var any = false;
        foreach (var c in line)
        {
            if (quote is { } q)
            {
                if (c == q)
                {
                    quote = null;
                }
                else
                {
                    current.Append(c);
                }
            }
            else if (c is '\'' or '"')
            {
                quote = c;
                any = true;
            }
            else if (char.IsWhiteSpace(c))
            {
                if (any || current.Length > 0)
                {
                    words.Add(current.ToString());
                    current.Clear();
                    any = false;
                }
            }
            else
            {
                current.Append(c);
            }
        }

        if (any || current.Length > 0)
        {
            words.Add(current.ToString());
        }

        return words;
    }

    private void PrintEvent(WatchedEvent e)
    {
        lock (output)
        {
            output.WriteLine();
            output.WriteLine("WATCHER::");
            output.WriteLine();
            output.WriteLine($"WatchedEvent state:{e.State} type:{e.Type} path:{e.Path ?? "null"}");
        }
    }

    private sealed class UsageException(string message) : Exception(message);
}
