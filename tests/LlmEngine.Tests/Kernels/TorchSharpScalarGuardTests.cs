using LlmEngine.Kernels.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Tests.Kernels;

/// <summary>A Scalar made by an implicit conversion (alpha 1 in <c>add</c>, -inf in <c>masked_fill</c>)
/// is unreachable while libtorch reads it; without the guard a collection during the call frees
/// it, and calls fail ("Expected false to be true") several times a second under forced
/// collections. With the guard none fails and every result is right.</summary>
[Collection(TimingCollection.Name)]
public sealed class TorchSharpScalarGuardTests
{
    [Fact]
    public void TorchSharpCallsGoThroughTheGuard()
    {
        using var a = ones(4);
        using var b = a.add(a);
        Assert.True(TorchSharpScalarGuard.IsActive);
    }

    [Fact]
    public void ImplicitScalarsSurviveCollectionsDuringTheCallsThatReadThem()
    {
        using var a = ones(4);
        using var b = ones(4);
        var stop = DateTime.UtcNow.AddSeconds(8);
        long calls = 0, wrong = 0;
        var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var collector = new Thread(() =>
        {
            while (DateTime.UtcNow < stop)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
            }
        });
        var callers = Enumerable.Range(0, 3).Select(_ => new Thread(() =>
        {
            while (DateTime.UtcNow < stop)
            {
                try
                {
                    using var mask = a.gt(b);
                    using var sum = a.add(b);
                    using var filled = sum.masked_fill(mask, float.NegativeInfinity);
                    using var first = sum[0];
                    if (first.item<float>() != 2) Interlocked.Increment(ref wrong);
                    Interlocked.Increment(ref calls);
                }
                catch (Exception e)
                {
                    failures.Enqueue(e.Message.Split('\n')[0]);
                }
            }
        })).ToList();
        collector.Start();
        callers.ForEach(t => t.Start());
        callers.ForEach(t => t.Join());
        collector.Join();

        Assert.True(calls > 1000, $"only {calls} calls ran");
        Assert.Empty(failures);
        Assert.Equal(0, wrong);
    }
}
