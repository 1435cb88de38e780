using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Zk.Embedded.Metrics;

/// <summary>
/// ZooKeeper's Prometheus endpoint: <c>GET /metrics</c> answers the <c>Zk.Embedded</c> meter in Prometheus text
/// format, with Apache ZooKeeper's metric names where they mean the same (docs/metrics.md lists them). It reports
/// every peer of the process, as the meter does. Dispose to close the port.
/// </summary>
/// <remarks>
/// A small HTTP/1.1 responder on a socket rather than <see cref="HttpListener"/>: it binds exactly
/// <c>metricsProvider.httpHost</c>, can take port 0 (tests) and needs no URL reservation. One request per connection;
/// a request head larger than 8 KiB, or not complete within 10 s, closes the connection.
/// </remarks>
public sealed class PrometheusMetricsServer : IAsyncDisposable
{
    private const int MaxRequestHeadBytes = 8 * 1024;
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(10);

    private readonly TcpListener _listener;
    private readonly MetricsCollector _collector = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly ILogger _logger;
    private readonly Task _accepting;

    private PrometheusMetricsServer(TcpListener listener, ILogger logger)
    {
        _listener = listener;
        _logger = logger;
        _accepting = AcceptAsync();
    }

    /// <summary>Where the endpoint listens, with the actual port when 0 was asked for.</summary>
    public IPEndPoint EndPoint => (IPEndPoint)_listener.LocalEndpoint;

    /// <summary>Opens the endpoint.</summary>
    /// <exception cref="ArgumentException">an option is invalid; the message names the zoo.cfg key.</exception>
    /// <exception cref="SocketException">the port is taken, or the host is not an address of this machine.</exception>
    public static PrometheusMetricsServer Start(PrometheusMetricsOptions options, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var address = IPAddress.TryParse(options.HttpHost, out var parsed) ? parsed : Dns.GetHostAddresses(options.HttpHost)[0];
        var listener = new TcpListener(address, options.HttpPort);
        listener.Start();
        var logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("Zk.Embedded.Metrics");
        var server = new PrometheusMetricsServer(listener, logger);
        Log.EndpointOpen(logger, server.EndPoint);
        return server;
    }

    /// <summary>The text <c>/metrics</c> answers now (Prometheus text format 0.0.4).</summary>
    public string Scrape() => _collector.Scrape();

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptSocketAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            _ = ServeAsync(socket);
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        using var _ = socket;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        timeout.CancelAfter(RequestTimeout);
        try
        {
            var head = await ReadHeadAsync(socket, timeout.Token).ConfigureAwait(false);
            var response = head is null ? Response(400, "Bad Request", "bad request\n") : Answer(head);
            await socket.SendAsync(response, SocketFlags.None, timeout.Token).ConfigureAwait(false);
            socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            Log.RequestFailed(_logger, socket.RemoteEndPoint, e);
        }
    }

    /// <summary>The request line and headers, or null when they are too long or the client stops sending.</summary>
    private static async Task<string?> ReadHeadAsync(Socket socket, CancellationToken ct)
    {
        var buffer = new byte[MaxRequestHeadBytes];
        var length = 0;
        while (length < buffer.Length)
        {
            var read = await socket.ReceiveAsync(buffer.AsMemory(length), SocketFlags.None, ct).ConfigureAwait(false);
            if (read == 0)
            {
                return null;
            }

            length += read;
            var text = Encoding.ASCII.GetString(buffer, 0, length);
            if (text.Contains("\r\n\r\n", StringComparison.Ordinal) || text.Contains("\n\n", StringComparison.Ordinal))
            {
                return text;
            }
        }

        return null;
    }

    private byte[] Answer(string head)
    {
        var line = head[..head.IndexOf('\n', StringComparison.Ordinal)].TrimEnd('\r').Split(' ');
        if (line.Length != 3 || !line[2].StartsWith("HTTP/", StringComparison.Ordinal))
        {
            return Response(400, "Bad Request", "bad request\n");
        }

        var path = line[1].Split('?')[0];
        if (path is not ("/metrics" or "/metrics/"))
        {
            return Response(404, "Not Found", "only /metrics is served here\n");
        }

        // ZooKeeper's servlet answers GET (and HEAD), and refuses TRACE for security.
        return line[0] switch
        {
            "GET" => Response(200, "OK", _collector.Scrape()),
            "HEAD" => Response(200, "OK", _collector.Scrape(), headOnly: true),
            _ => Response(405, "Method Not Allowed", "use GET\n"),
        };
    }

    private static byte[] Response(int status, string reason, string body, bool headOnly = false)
    {
        var content = Encoding.UTF8.GetBytes(body);
        var head = Encoding.ASCII.GetBytes(
            $"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {content.Length}\r\nConnection: close\r\n\r\n");
        return headOnly ? head : [.. head, .. content];
    }

    /// <summary>Closes the port and stops listening to the meter; never throws.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested)
        {
            return;
        }

        _stop.Cancel();
        _listener.Stop();
        await _accepting.ConfigureAwait(false);
        _collector.Dispose();
        _stop.Dispose();
    }
}
