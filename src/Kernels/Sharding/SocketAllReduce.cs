using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Numerics;
using System.Runtime.InteropServices;
using LlmEngine.Kernels.Native;
using TorchSharp;

namespace LlmEngine.Kernels.Sharding;

/// <summary>A connection of a <see cref="SocketAllReduce"/> group broke (its peer died, was aborted, or did
/// not answer in time), or the group did not form: the step fails, and the group stays broken until it is
/// formed again.</summary>
public sealed class AllReduceConnectionException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// The all-reduce of tensor-parallel ranks on different nodes (--tensor-parallel-across-nodes), over
/// direct TCP connections, one per pair of ranks. Each rank sends its partial sums to every other rank
/// and receives theirs, then adds the ranks' values up in rank order, as the shared-memory all-reduce
/// does, so every rank holds the same bits (and the bits that ranks on threads of one process get).
/// <code>
///   rank 0                     rank 1
///   partial p0 ---- header + p0 ---->    (both send first, asynchronously,
///             &lt;---- header + p1 -----    then read the other's)
///   p0 + p1                    p0 + p1   (rank order on both: the same bits)
/// </code>
/// A plain socket rather than Akka messages: the all-reduce is a blocking collective in the middle of a
/// rank's forward pass (2 per layer), so the rank's compute thread itself writes and reads; through
/// Akka.Remote each would cross the endpoint writer and reader actors and DotNetty's threads (a wake-up
/// each, measured at ~3-5 ms per hop on a loaded machine for stage hand-overs), share one connection with
/// the cluster's heartbeats (a large partial would delay them) and be copied into a message and a frame.
/// Membership and failure detection stay with Akka.Cluster: the head forms the group from the endpoints
/// its ranks report (<see cref="Connect"/>) and aborts it when a rank's node is lost.
/// Each rank listens from its creation (<see cref="Endpoint"/>); forming the group, rank r connects to
/// every rank below it and accepts every rank above it, and the first sum waits for those connections.
/// A failure closes every connection of the rank, so that no peer waits for it, and breaks the group.
/// </summary>
public sealed unsafe partial class SocketAllReduce : IAllReduce, IDisposable
{
    private const int Header = 8;

    private readonly TcpListener _listener;
    private readonly object _gate = new();
    private readonly byte[][] _buffers;
    // Connections of a generation this rank has not been told of yet (a peer that heard of it first).
    private readonly List<(Socket Socket, int Peer, long Generation)> _early = [];
    private Socket?[] _peers;
    private TaskCompletionSource _formed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private CancellationTokenSource _forming = new();
    private long _generation = -1;
    private string? _broken = "the group has not been formed yet";
    private TimeSpan _timeout = TimeSpan.FromSeconds(300);
    private volatile bool _disposed;

    /// <param name="host">the address the other ranks reach this one at (this node's cluster address)</param>
    public SocketAllReduce(int rank, int ranks, string host)
    {
        if (ranks < 2 || rank < 0 || rank >= ranks) throw new ArgumentOutOfRangeException(nameof(rank), $"rank {rank} of {ranks}");
        (Rank, Ranks) = (rank, ranks);
        _listener = new TcpListener(AddressOf(host), 0);
        _listener.Start(ranks);
        Endpoint = $"{host}:{((IPEndPoint)_listener.LocalEndpoint).Port}";
        _peers = new Socket?[ranks];
        _buffers = [.. Enumerable.Range(0, ranks).Select(_ => Array.Empty<byte>())];
        _ = AcceptAsync();
    }

    public int Rank { get; }
    public int Ranks { get; }
    /// <summary>host:port of this rank's listener, for the other ranks.</summary>
    public string Endpoint { get; }

    /// <summary>Breaks the group: a <see cref="Sum"/> waiting on a peer throws at once. The head calls it when a rank's node is lost.</summary>
    public void Abort(string why = "the all-reduce was aborted")
    {
        lock (_gate) Close(why);
    }

    public void Sum(int rank, torch.Tensor partial)
    {
        if (rank != Rank) throw new ArgumentException($"rank {rank} summing in rank {Rank}'s group", nameof(rank));
        if (partial.device_type != DeviceType.CPU || !partial.is_contiguous() || partial.dtype is not (torch.ScalarType.Float32 or torch.ScalarType.BFloat16))
            throw new ArgumentException("all-reduce: expected a contiguous float32 or bfloat16 CPU tensor");
        Socket?[] peers;
        Task formed;
        TimeSpan timeout;
        lock (_gate)
        {
            if (_broken is { } broken) throw new AllReduceConnectionException($"tensor-parallel all-reduce: {broken}");
            (peers, formed, timeout) = (_peers, _formed.Task, _timeout);
        }
        try
        {
            if (!formed.Wait(timeout)) throw new TimeoutException($"the other ranks did not connect within {timeout.TotalSeconds:0.#} s");
        }
        catch (Exception error)
        {
            throw Fail(error is AggregateException { InnerException: { } inner } ? inner : error, "forming the group");
        }
        long count = partial.numel();
        int bytes = checked((int)(count * partial.ElementSize));
        var own = Buffer(Rank, bytes);
        BinaryPrimitives.WriteInt64LittleEndian(own, count);
        new ReadOnlySpan<byte>((void*)TensorMemory.DataPointer(partial), bytes).CopyTo(own.AsSpan(Header));
        Exchange(peers, own, count, bytes);
        if (partial.dtype == torch.ScalarType.Float32) AddInRankOrder(new Span<float>((void*)TensorMemory.DataPointer(partial), (int)count), bytes);
        else AddInRankOrder(new Span<ushort>((void*)TensorMemory.DataPointer(partial), (int)count), bytes);
        GC.KeepAlive(partial);
    }

    // Every send starts before any read, so two ranks never wait on each other's full socket buffers.
    private void Exchange(Socket?[] peers, byte[] own, long count, int bytes)
    {
        int current = -1;
        try
        {
            var sends = new List<Task>(Ranks - 1);
            for (int peer = 0; peer < Ranks; peer++)
                if (peer != Rank) sends.Add(peers[peer]!.SendAsync(own.AsMemory(0, Header + bytes), SocketFlags.None).AsTask());
            for (current = 0; current < Ranks; current++)
            {
                if (current == Rank) continue;
                var received = Buffer(current, bytes);
                Read(peers[current]!, received.AsSpan(0, Header + bytes));
                long theirs = BinaryPrimitives.ReadInt64LittleEndian(received);
                if (theirs != count) throw new InvalidDataException($"rank {current} summed {theirs} values where this rank sums {count}");
            }
            current = -1;
            if (!Task.WaitAll([.. sends], _timeout)) throw new TimeoutException($"sending took over {_timeout.TotalSeconds:0.#} s");
        }
        catch (Exception error) when (error is not AllReduceConnectionException)
        {
            throw Fail(error is AggregateException { InnerException: { } inner } ? inner : error, current >= 0 ? $"reading from rank {current}" : "sending");
        }
    }

    private static void Read(Socket socket, Span<byte> into)
    {
        while (!into.IsEmpty)
        {
            int read = socket.Receive(into);
            if (read == 0) throw new IOException("the peer closed the connection");
            into = into[read..];
        }
    }

    private void AddInRankOrder(Span<float> target, int bytes)
    {
        MemoryMarshal.Cast<byte, float>(_buffers[0].AsSpan(Header, bytes)).CopyTo(target);
        for (int k = 1; k < Ranks; k++)
        {
            var values = MemoryMarshal.Cast<byte, float>(_buffers[k].AsSpan(Header, bytes));
            int i = 0;
            for (; i <= target.Length - Vector<float>.Count; i += Vector<float>.Count)
                (new Vector<float>(target[i..]) + new Vector<float>(values[i..])).CopyTo(target[i..]);
            for (; i < target.Length; i++) target[i] += values[i];
        }
    }

    // As the shared-memory all-reduce: summed in float32 in rank order, rounded to bfloat16 once.
    private void AddInRankOrder(Span<ushort> target, int bytes)
    {
        for (int i = 0; i < target.Length; i++)
        {
            float sum = 0;
            for (int k = 0; k < Ranks; k++)
            {
                float value = BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(_buffers[k].AsSpan(Header + 2 * i)) << 16);
                sum = k == 0 ? value : sum + value;
            }
            target[i] = ToBFloat16(sum);
        }
    }

    private static ushort ToBFloat16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if ((bits & 0x7fffffffu) > 0x7f800000u) return 0x7fc0;
        return (ushort)((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
    }

    private byte[] Buffer(int rank, int bytes)
    {
        if (_buffers[rank].Length < Header + bytes) _buffers[rank] = new byte[Header + bytes];
        return _buffers[rank];
    }

    private AllReduceConnectionException Fail(Exception error, string doing)
    {
        string why = $"rank {Rank} of {Ranks} failed {doing}: {error.Message}";
        lock (_gate) Close(why);
        return new AllReduceConnectionException($"tensor-parallel all-reduce: {why}", error);
    }

    // Under _gate. Every connection closes, so a peer reading from this rank fails instead of waiting.
    private void Close(string why)
    {
        _broken ??= why;
        _forming.Cancel();
        _formed.TrySetException(new AllReduceConnectionException(why));
        foreach (var peer in _peers) peer?.Dispose();
        Array.Clear(_peers);
    }

    public void Dispose()
    {
        _disposed = true;
        _listener.Stop();
        lock (_gate)
        {
            Close("the group was disposed");
            foreach (var early in _early) early.Socket.Dispose();
            _early.Clear();
        }
    }
}
