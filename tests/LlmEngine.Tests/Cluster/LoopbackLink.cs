using System.Net;
using System.Net.Sockets;

namespace LlmEngine.Tests.Cluster;

/// <summary>
/// A TCP relay on loopback that stands for the network in front of one cluster node: the node
/// advertises the relay's port as its address (<c>serve --cluster-public-address</c>), so every
/// other node reaches it through here. <see cref="Cut"/> turns the link into a black hole, as a
/// partition does: connections stay open, but bytes in either direction are dropped and new
/// connections are accepted and then ignored. No reset tells either side: only the failure
/// detector's missing heartbeats do.
/// </summary>
public sealed class LoopbackLink : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly int _target;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<TcpClient> _connections = [];
    private volatile bool _cut;

    public LoopbackLink(int target)
    {
        _target = target;
        _listener.Start();
        _ = Accept();
    }

    /// <summary>The port the node advertises; the node itself listens on the target port.</summary>
    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>From now on nothing crosses this link. It does not heal: once cut, the node
    /// behind it stays apart.</summary>
    public void Cut() => _cut = true;

    private async Task Accept()
    {
        try
        {
            while (true) _ = Relay(await _listener.AcceptTcpClientAsync(_stop.Token));
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
        {
            // Disposed.
        }
    }

    private async Task Relay(TcpClient inbound)
    {
        var outbound = new TcpClient();
        lock (_connections) _connections.AddRange([inbound, outbound]);
        if (_cut) return;
        try
        {
            await outbound.ConnectAsync(IPAddress.Loopback, _target, _stop.Token);
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
        {
            inbound.Close();
            return;
        }
        await Task.WhenAny(Pump(inbound.GetStream(), outbound.GetStream()), Pump(outbound.GetStream(), inbound.GetStream()));
        // One side closed before the cut: close the other, as a direct connection would be.
        if (!_cut)
        {
            inbound.Close();
            outbound.Close();
        }
    }

    // Once cut, reads and drops: the sender sees neither an error nor backpressure.
    private async Task Pump(NetworkStream from, NetworkStream to)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            int n;
            while ((n = await from.ReadAsync(buffer, _stop.Token)) > 0)
                if (!_cut) await to.WriteAsync(buffer.AsMemory(0, n), _stop.Token);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException or SocketException)
        {
            // A side closed its connection (or the link was disposed).
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        lock (_connections)
            foreach (var c in _connections) c.Dispose();
        _stop.Dispose();
    }
}
