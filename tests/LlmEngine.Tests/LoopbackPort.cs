using System.Net;
using System.Net.Sockets;

namespace LlmEngine.Tests;

/// <summary>Ports for servers and cluster nodes that tests start on the loopback interface.</summary>
public static class LoopbackPort
{
    /// <summary>A port that was free a moment ago (the OS picks it; another process could take it
    /// before the caller binds it, which loopback tests accept).</summary>
    public static int Free()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
