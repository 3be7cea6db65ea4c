using LlmEngine.Kernels.Sharding;
using TorchSharp;

namespace LlmEngine.Tests.Sharding;

/// <summary>The native shared-memory all-reduce of tensor-parallel rank threads.</summary>
public class SharedMemoryAllReduceTests
{
    private static torch.Tensor[] RunRanks(SharedMemoryAllReduce group, Func<int, torch.Tensor> partial)
    {
        var buffers = Enumerable.Range(0, group.Ranks).Select(partial).ToArray();
        var ranks = Enumerable.Range(0, group.Ranks).Select(r => new Thread(() => group.Sum(r, buffers[r]))).ToArray();
        foreach (var t in ranks) t.Start();
        foreach (var t in ranks) Assert.True(t.Join(TimeSpan.FromSeconds(30)), "a rank did not return");
        return buffers;
    }

    [Theory]
    [InlineData(2, 1)]
    [InlineData(3, 1001)]
    [InlineData(4, 64 * 768)]
    public void EveryRankEndsWithTheSumInRankOrder(int ranks, int count)
    {
        using var temporaries = torch.NewDisposeScope();
        using var group = new SharedMemoryAllReduce(ranks);
        var inputs = Enumerable.Range(0, ranks).Select(r => torch.randn(count, generator: new torch.Generator((ulong)(r + 1)))).ToArray();
        var expected = inputs[0].clone();
        for (int r = 1; r < ranks; r++) expected.add_(inputs[r]);
        var outputs = RunRanks(group, r => inputs[r].clone());
        foreach (var output in outputs) Assert.True(output.eq(expected).all().item<bool>(), "every rank holds the rank-order sum, to the bit");
    }

    [Fact]
    public void BFloat16IsSummedInFloat32AndRoundedOnce()
    {
        using var temporaries = torch.NewDisposeScope();
        using var group = new SharedMemoryAllReduce(2);
        // 256 + 1 + 1 is 258 in float32, and bfloat16 (8 bits of mantissa) holds 258; adding in
        // bfloat16 would round 256 + 1 back to 256 first.
        var outputs = RunRanks(group, r => torch.tensor(r == 0 ? new[] { 256f } : new[] { 2f }).to(torch.ScalarType.BFloat16));
        foreach (var output in outputs) Assert.Equal(258f, output.to(torch.ScalarType.Float32).item<float>());
    }

    [Fact]
    public void AnAbortWakesARankWaitingForAnotherAndResetRestoresTheGroup()
    {
        using var temporaries = torch.NewDisposeScope();
        using var group = new SharedMemoryAllReduce(2);
        Exception? error = null;
        var waiting = new Thread(() =>
        {
            try { group.Sum(0, torch.ones(8)); }
            catch (Exception e) { error = e; }
        });
        waiting.Start();
        Thread.Sleep(50);
        group.Abort();
        Assert.True(waiting.Join(TimeSpan.FromSeconds(10)), "the waiting rank did not wake");
        Assert.IsType<AllReduceAbortedException>(error);

        group.Reset();
        var outputs = RunRanks(group, r => torch.full(8, r + 1f));
        Assert.All(outputs, o => Assert.Equal(3f, o[0].item<float>()));
    }

    [Fact]
    public void RanksThatDisagreeOnTheSizeGetAClearError()
    {
        using var temporaries = torch.NewDisposeScope();
        using var group = new SharedMemoryAllReduce(2);
        var errors = new Exception?[2];
        var ranks = Enumerable.Range(0, 2).Select(r => new Thread(() =>
        {
            try { group.Sum(r, torch.ones(r == 0 ? 4 : 5)); }
            catch (Exception e) { errors[r] = e; }
        })).ToArray();
        foreach (var t in ranks) t.Start();
        foreach (var t in ranks) Assert.True(t.Join(TimeSpan.FromSeconds(10)));
        Assert.Contains(errors, e => e is InvalidOperationException && e.Message.Contains("different sizes"));
    }
}
