using System.Net;
using System.Net.Sockets;

namespace Zk.Bench;

/// <summary>Ports for the servers and peers the benches start on 127.0.0.1.</summary>
internal static class LoopbackPort
{
    /// <summary>A port free on the loopback address now (the kernel's pick; another process could take it before use).</summary>
    public static int Free()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }
}
