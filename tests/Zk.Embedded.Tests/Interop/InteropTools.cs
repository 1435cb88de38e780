using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Zk.Embedded.Tests.Interop;

/// <summary>
/// Where the real ZooKeeper clients live (Debian's zookeeper, zookeeper-bin and python3-kazoo packages), and the rule
/// for when one is missing: on CI (CI=true, which installs them) the test fails; elsewhere it is skipped, saying why.
/// </summary>
internal static class InteropTools
{
    public const string ZkCli = "/usr/share/zookeeper/bin/zkCli.sh";
    public const string ZkServer = "/usr/share/zookeeper/bin/zkServer.sh";
    public const string ZooKeeperJar = "/usr/share/java/zookeeper.jar";
    public const string CliMt = "/usr/lib/zookeeper/bin/cli_mt";

    /// <summary>Debian's python, which python3-kazoo installs into (not a pyenv python3 that may come first on PATH).</summary>
    public const string DebianPython = "/usr/bin/python3";

    private const string Install = "apt-get install -y zookeeper zookeeper-bin python3-kazoo";

    /// <summary>A deadline for one external program; generous because a JVM starts in about a second here.</summary>
    public static readonly TimeSpan ProgramDeadline = TimeSpan.FromSeconds(45);

    public static void RequireFiles(params string[] paths)
    {
        var missing = paths.Where(p => !File.Exists(p)).ToArray();
        if (missing.Length > 0)
        {
            Missing($"{string.Join(", ", missing)} not found");
        }
    }

    public static void RequireKazoo()
    {
        RequireFiles(DebianPython);
        using var check = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(DebianPython, ["-c", "import kazoo"])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        })!;
        if (!check.WaitForExit(TimeSpan.FromSeconds(20)))
        {
            check.Kill(entireProcessTree: true);
            Assert.Fail($"expected '{DebianPython} -c \"import kazoo\"' to finish within 20 s");
        }

        if (check.ExitCode != 0)
        {
            Missing($"{DebianPython} cannot import kazoo: {check.StandardError.ReadToEnd().Trim()}");
        }
    }

    private static void Missing(string what)
    {
        var reason = $"{what}; install with: {Install}";
        if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
        {
            Assert.Fail($"CI=true and {reason} (CI must install them before the tests)");
        }

        Skip.If(true, reason);
    }

    /// <summary>
    /// A loopback port nobody listens on now, below the kernel's ephemeral range (32768-60999 here), never the same
    /// twice in a test run.
    /// </summary>
    /// <remarks>
    /// Not bind-to-0: an ephemeral port can be taken again at once by any outgoing connection, and a peer that keeps
    /// reconnecting to a port nobody listens on yet may even connect to itself there (source port = destination
    /// port), after which the member that should listen on it cannot ("Address already in use", seen in a NetMQ
    /// contract test). Ports below the range are only ever bound on purpose.
    /// </remarks>
    public static int FreeLoopbackPort()
    {
        lock (HandedOut)
        {
            while (true)
            {
                var port = FirstPort + (_nextPort++ % PortSpan);
                if (!HandedOut.Add(port))
                {
                    continue;
                }

                try
                {
                    using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                    probe.Bind(new IPEndPoint(IPAddress.Loopback, port));
                    return port;
                }
                catch (SocketException)
                {
                    // Taken by something else: try the next one.
                }
            }
        }
    }

    private const int FirstPort = 20000;
    private const int PortSpan = 12000;

    /// <summary>Where this run starts in the span: another test run on the machine most likely starts elsewhere.</summary>
    private static int _nextPort = Random.Shared.Next(PortSpan);

    private static readonly HashSet<int> HandedOut = [];

    /// <summary>Sends a four-letter word and returns the whole answer (the server closes the connection after it).</summary>
    public static async Task<string> FourLetterWordAsync(IPEndPoint endPoint, string word, TimeSpan deadline)
    {
        using var timeout = new CancellationTokenSource(deadline);
        using var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(endPoint, timeout.Token);
        await socket.SendAsync(Encoding.ASCII.GetBytes(word), SocketFlags.None, timeout.Token);
        var answer = new MemoryStream();
        var buffer = new byte[64 * 1024];
        int read;
        while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token)) > 0)
        {
            answer.Write(buffer, 0, read);
        }

        return Encoding.UTF8.GetString(answer.ToArray());
    }
}
