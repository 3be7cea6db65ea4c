using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace LlmEngine.Kernels.Sharding;

// Forming the group: rank r connects to every rank below it and accepts every rank above it; each
// connection starts with a hello (the group's generation, the rank), so that a connection meant for
// an earlier forming is dropped and one for a later forming waits until this rank hears of it.
public sealed partial class SocketAllReduce
{
    /// <summary>Forms the group anew (generation <paramref name="generation"/>) from every rank's endpoint, in rank order,
    /// dropping the connections of an earlier one. Returns at once; the next <see cref="Sum"/> waits for the connections,
    /// at most <paramref name="timeout"/>, which also bounds each later read from a peer.</summary>
    public void Connect(IReadOnlyList<string> endpoints, long generation, TimeSpan timeout)
    {
        if (endpoints.Count != Ranks) throw new ArgumentException($"{endpoints.Count} endpoints for a group of {Ranks}", nameof(endpoints));
        lock (_gate)
        {
            Close("the group is being formed again");
            (_generation, _timeout, _broken) = (generation, timeout, null);
            _peers = new Socket?[Ranks];
            _formed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _forming = new CancellationTokenSource(timeout);
            for (int peer = 0; peer < Rank; peer++) _ = DialAsync(endpoints[peer], peer, generation, _forming.Token);
            foreach (var (socket, peer, at) in _early.ToArray())
            {
                if (at > generation) continue;
                _early.Remove((socket, peer, at));
                Admit(socket, peer, at);
            }
            CheckFormed();
        }
    }

    // Under _gate.
    private void CheckFormed()
    {
        if (_broken is null && Enumerable.Range(0, Ranks).All(p => p == Rank || _peers[p] is not null)) _formed.TrySetResult();
    }

    // Under _gate: keeps a connection that belongs to the current generation's forming (or parks one of a later
    // generation until this rank hears of it), else closes it.
    private void Admit(Socket socket, int peer, long generation)
    {
        if (generation > _generation && !_disposed)
        {
            _early.Add((socket, peer, generation));
            return;
        }
        if (generation != _generation || _broken is not null || peer < 0 || peer >= Ranks || peer == Rank || _peers[peer] is not null)
        {
            socket.Dispose();
            return;
        }
        socket.NoDelay = true;
        socket.ReceiveTimeout = (int)Math.Min(int.MaxValue, _timeout.TotalMilliseconds);
        _peers[peer] = socket;
        CheckFormed();
    }

    private async Task DialAsync(string endpoint, int peer, long generation, CancellationToken cancel)
    {
        int colon = endpoint.LastIndexOf(':');
        var (host, port) = (endpoint[..colon], int.Parse(endpoint[(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture));
        while (!cancel.IsCancellationRequested)
        {
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(host, port, cancel);
                var hello = new byte[12];
                BinaryPrimitives.WriteInt64LittleEndian(hello, generation);
                BinaryPrimitives.WriteInt32LittleEndian(hello.AsSpan(8), Rank);
                await socket.SendAsync(hello, SocketFlags.None, cancel);
                lock (_gate) Admit(socket, peer, generation);
                return;
            }
            catch (Exception) when (!cancel.IsCancellationRequested)
            {
                // Not listening yet, or gone: try again until the group's time to form runs out.
                socket.Dispose();
                await Task.Delay(100, CancellationToken.None);
            }
            catch (Exception)
            {
                socket.Dispose();
            }
        }
    }

    private async Task AcceptAsync()
    {
        while (!_disposed)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptSocketAsync();
            }
            catch (Exception) when (_disposed)
            {
                return;
            }
            catch (SocketException)
            {
                continue;
            }
            _ = HelloAsync(socket);
        }
    }

    private async Task HelloAsync(Socket socket)
    {
        try
        {
            var hello = new byte[12];
            using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            for (int read = 0; read < hello.Length;)
            {
                int got = await socket.ReceiveAsync(hello.AsMemory(read), SocketFlags.None, patience.Token);
                if (got == 0) throw new IOException("closed before saying which rank it is");
                read += got;
            }
            lock (_gate) Admit(socket, BinaryPrimitives.ReadInt32LittleEndian(hello.AsSpan(8)), BinaryPrimitives.ReadInt64LittleEndian(hello));
        }
        catch (Exception)
        {
            socket.Dispose();
        }
    }

    private static IPAddress AddressOf(string host) =>
        IPAddress.TryParse(host, out var address) ? address : Dns.GetHostAddresses(host).First(a => a.AddressFamily == AddressFamily.InterNetwork);

}
