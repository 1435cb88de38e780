using System.CommandLine;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Zk.Bench.Load;
using Zk.Bench.Reporting;
using Zk.Embedded.Transport;
using Zk.Transport.InMemory;
using Zk.Transport.NetMQ;

namespace Zk.Bench.Transport;

/// <summary>
/// <c>transport</c>: the round trip of one message between two peers of each transport in one process, beside its
/// physical limit, the same ping-pong over a plain loopback TCP connection. A replicated write over the wire crosses
/// the peer transport four times on its way (forward, PROPOSAL, ACK, COMMIT), so this says how much of a 1 × 1 write
/// the transport is.
/// </summary>
internal static class TransportCommand
{
    public static Command Define()
    {
        var seconds = BenchOption.Int("--seconds", 3, 1, 60, "length of each measurement");
        var warmup = BenchOption.Int("--warmup-seconds", 1, 0, 30, "unmeasured round trips before each measurement");
        var bytes = BenchOption.Int("--message-bytes", 1100, 1, 1 << 20, "bytes of each message (1,100: a PROPOSAL of a 1 KiB setData)");
        var systems = BenchOption.Names("--systems", "tcp,netmq,in-memory", "what carries the messages", "tcp", "netmq", "in-memory");
        var command = new Command("transport", "round trips of one message between two peers: the NetMQ and in-memory transports beside plain loopback TCP")
        {
            seconds, warmup, bytes, systems,
        };
        command.SetAction(r => RunAsync(r.GetValue(seconds), r.GetValue(warmup), r.GetValue(bytes), r.GetValue(systems)!));
        return command;
    }

    private static async Task RunAsync(int seconds, int warmup, int bytes, string[] systems)
    {
        Console.WriteLine(MachineInfo.Describe());
        Console.WriteLine($"> one message of {Format.Count(bytes)} B at a time, echoed back; {seconds} s per row after {warmup} s unmeasured; both ends in this process");
        Console.WriteLine();
        var table = new MarkdownTable("carried by", "round trips", "per s", "p50 µs", "p90 µs", "p99 µs", "max µs");
        foreach (var system in systems)
        {
            var histogram = system switch
            {
                "tcp" => await TcpAsync(seconds, warmup, bytes).ConfigureAwait(false),
                "netmq" => await PeersAsync(NetMqPair(), seconds, warmup, bytes).ConfigureAwait(false),
                _ => await InMemoryAsync(seconds, warmup, bytes).ConfigureAwait(false),
            };
            var name = system switch
            {
                "tcp" => "loopback TCP socket (the limit)",
                "netmq" => "Zk.Transport.NetMQ (authenticated)",
                _ => "Zk.Transport.InMemory",
            };
            table.Add(name, Format.Count(histogram.Count), Format.Count(histogram.Count / (double)seconds),
                Format.Micros(histogram.ValueAtPercentile(50)), Format.Micros(histogram.ValueAtPercentile(90)),
                Format.Micros(histogram.ValueAtPercentile(99)), Format.Micros(histogram.Max));
        }

        Console.Write(table);
    }

    private static (IPeerTransport A, IPeerTransport B) NetMqPair()
    {
        var members = new Dictionary<int, string> { [1] = $"127.0.0.1:{LoopbackPort.Free()}", [2] = $"127.0.0.1:{LoopbackPort.Free()}" };
        var secret = new byte[32];
        Random.Shared.NextBytes(secret);
        return (NetMqTransport.Start(new NetMqTransportOptions { LocalId = 1, Members = members, SharedSecret = secret }),
            NetMqTransport.Start(new NetMqTransportOptions { LocalId = 2, Members = members, SharedSecret = secret }));
    }

    private static async Task<LatencyHistogram> InMemoryAsync(int seconds, int warmup, int bytes)
    {
        await using var network = new InMemoryNetwork();
        return await PeersAsync((network.Join(1), network.Join(2)), seconds, warmup, bytes).ConfigureAwait(false);
    }

    /// <summary>Peer 1 sends, peer 2 echoes each message back; each read is an awaited channel read, as the driver's.</summary>
    private static async Task<LatencyHistogram> PeersAsync((IPeerTransport A, IPeerTransport B) pair, int seconds, int warmup, int bytes)
    {
        var (a, b) = pair;
        await using var _ = a;
        await using var __ = b;
        await ConnectedAsync(a, 2).ConfigureAwait(false);
        await ConnectedAsync(b, 1).ConfigureAwait(false);
        using var stop = new CancellationTokenSource();
        var echo = Task.Run(async () =>
        {
            try
            {
                while (true)
                {
                    using var e = await b.Events.ReadAsync(stop.Token).ConfigureAwait(false);
                    if (e.Kind == TransportEventKind.Message)
                        b.Send(1, e.Payload.Span);
                }
            }
            catch (OperationCanceledException)
            {
            }
        });
        var message = new byte[bytes];
        var histogram = await MeasureAsync(seconds, warmup, async () =>
        {
            while (!a.Send(2, message))
                await Task.Yield(); // a full queue (not at one message in flight): try again
            while (true)
            {
                using var e = await a.Events.ReadAsync().ConfigureAwait(false);
                if (e.Kind == TransportEventKind.Message)
                    return;
            }
        }).ConfigureAwait(false);
        await stop.CancelAsync().ConfigureAwait(false);
        await echo.ConfigureAwait(false);
        return histogram;
    }

    private static async Task ConnectedAsync(IPeerTransport transport, int peer)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (true)
        {
            using var e = await transport.Events.ReadAsync(timeout.Token).ConfigureAwait(false);
            if (e.Kind == TransportEventKind.Connected && e.Peer == peer)
                return;
        }
    }

    /// <summary>The same ping-pong over one loopback TCP connection: a 4-byte length, then the message; async on both ends.</summary>
    private static async Task<LatencyHistogram> TcpAsync(int seconds, int warmup, int bytes)
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await client.ConnectAsync(listener.LocalEndPoint!).ConfigureAwait(false);
        using var server = await listener.AcceptAsync().ConfigureAwait(false);
        server.NoDelay = true;
        var frame = new byte[bytes + 4];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(frame, bytes);
        using var stop = new CancellationTokenSource();
        var echo = Task.Run(async () =>
        {
            var buffer = new byte[bytes + 4];
            try
            {
                while (await ReadFrameAsync(server, buffer, stop.Token).ConfigureAwait(false))
                    await server.SendAsync(buffer, SocketFlags.None).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        });
        var back = new byte[bytes + 4];
        var histogram = await MeasureAsync(seconds, warmup, async () =>
        {
            await client.SendAsync(frame, SocketFlags.None).ConfigureAwait(false);
            await ReadFrameAsync(client, back, default).ConfigureAwait(false);
        }).ConfigureAwait(false);
        await stop.CancelAsync().ConfigureAwait(false);
        client.Shutdown(SocketShutdown.Both);
        await echo.ConfigureAwait(false);
        return histogram;
    }

    private static async Task<bool> ReadFrameAsync(Socket socket, byte[] buffer, CancellationToken cancellation)
    {
        for (var read = 0; read < buffer.Length;)
        {
            var n = await socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None, cancellation).ConfigureAwait(false);
            if (n == 0)
                return false;
            read += n;
        }

        return true;
    }

    private static async Task<LatencyHistogram> MeasureAsync(int seconds, int warmup, Func<Task> roundTrip)
    {
        var warm = Stopwatch.StartNew();
        while (warm.Elapsed.TotalSeconds < warmup)
            await roundTrip().ConfigureAwait(false);
        var histogram = new LatencyHistogram();
        var measured = Stopwatch.StartNew();
        while (measured.Elapsed.TotalSeconds < seconds)
        {
            var started = Stopwatch.GetTimestamp();
            await roundTrip().ConfigureAwait(false);
            histogram.Record(Stopwatch.GetTimestamp() - started);
        }

        return histogram;
    }
}
