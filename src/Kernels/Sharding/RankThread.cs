using System.Collections.Concurrent;
using LlmEngine.Kernels.Native;
using TorchSharp;

namespace LlmEngine.Kernels.Sharding;

/// <summary>
/// The dedicated thread of one tensor-parallel rank. It computes on its share of the cores: the
/// native kernels get a pool of that many threads for this thread alone, and libtorch's intra-op
/// threads (OpenMP's, which are per calling thread) are set to the same count. Work runs in the
/// order it is posted.
/// </summary>
internal sealed class RankThread : IDisposable
{
    private readonly BlockingCollection<Action> _work = new();
    private readonly Thread _thread;

    public RankThread(string name, int threads)
    {
        Threads = threads;
        _thread = new Thread(() => Loop(threads)) { IsBackground = true, Name = name };
        _thread.Start();
    }

    public int Threads { get; }

    public Task<T> Run<T>(Func<T> work)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        _work.Add(() =>
        {
            try { done.SetResult(work()); }
            catch (Exception error) { done.SetException(error); }
        });
        return done.Task;
    }

    private void Loop(int threads)
    {
        if (NativeKernels.IsAvailable) NativeKernels.BindThreads(threads);
        // libtorch sets a thread's OpenMP team lazily from the process-wide count on its first
        // parallel call; make that happen now, so that the count set next stays this thread's.
        torch.get_num_threads();
        torch.set_num_threads(threads);
        foreach (var work in _work.GetConsumingEnumerable()) work();
        if (NativeKernels.IsAvailable) NativeKernels.BindThreads(0);
    }

    public void Dispose()
    {
        _work.CompleteAdding();
        _thread.Join();
        _work.Dispose();
    }
}
