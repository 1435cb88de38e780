using System.Net;
using System.Net.Sockets;

namespace Zk.Embedded.Tests.Transport.NetMq;

/// <summary>
/// A TCP relay on loopback that forwards to <see cref="Target"/> and can freeze: while frozen it keeps every
/// connection open and passes nothing either way, as a peer whose machine vanished (no FIN, no RST).
/// </summary>
internal sealed class FreezingRelay : IAsyncDisposable
{
    private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private volatile bool _frozen;

    public FreezingRelay(int port)
    {
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, port));
        _listener.Listen();
        Port = port;
        _accepting = AcceptAsync();
    }

    public int Port { get; }
    public int Target { get; set; }
    public bool Frozen { get => _frozen; set => _frozen = value; }

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
                _ = RelayAsync(await _listener.AcceptAsync(_stop.Token));
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }

    /// <summary>Connects one accepted connection to the target; a failure closes that connection only, as a refused one would.</summary>
    private async Task RelayAsync(Socket inbound)
    {
        var outbound = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await outbound.ConnectAsync(new IPEndPoint(IPAddress.Loopback, Target), _stop.Token);
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException)
        {
            inbound.Dispose();
            outbound.Dispose();
            return;
        }
        _ = PumpAsync(inbound, outbound);
        _ = PumpAsync(outbound, inbound);
    }

    private async Task PumpAsync(Socket from, Socket to)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                var n = await from.ReceiveAsync(buffer, _stop.Token);
                if (n == 0)
                    break;
                // Frozen: hold the bytes (and stop reading) until thawed; what was read while frozen is dropped, as a
                // vanished machine's would be, so the connection that froze is dead for good.
                if (_frozen)
                {
                    while (_frozen)
                        await Task.Delay(10, _stop.Token);
                    break;
                }
                await to.SendAsync(buffer.AsMemory(0, n), _stop.Token);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
        finally
        {
            from.Dispose();
            to.Dispose();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        await _accepting;
        _stop.Dispose();
    }
}
