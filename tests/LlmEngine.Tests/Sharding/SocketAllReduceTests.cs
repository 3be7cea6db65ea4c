using System.Diagnostics;
using LlmEngine.Kernels.Runtime;
using LlmEngine.Kernels.Sharding;
using LlmEngine.Kernels.Workers;
using TorchSharp;

namespace LlmEngine.Tests.Sharding;

/// <summary>The all-reduce of tensor-parallel ranks on different nodes, over TCP (here two or three groups of
/// this process on loopback): the sums of the shared-memory all-reduce to the bit, the whole model's logits from
/// ranks that each hold only their shard, and a broken connection that fails a sum instead of hanging it.</summary>
public class SocketAllReduceTests
{
    private static SocketAllReduce[] Group(int ranks, long generation = 1)
    {
        var group = Enumerable.Range(0, ranks).Select(r => new SocketAllReduce(r, ranks, "127.0.0.1")).ToArray();
        var endpoints = group.Select(g => g.Endpoint).ToArray();
        foreach (var rank in group) rank.Connect(endpoints, generation, TimeSpan.FromSeconds(30));
        return group;
    }

    private static void OnEveryRank(int ranks, Action<int> work)
    {
        var errors = new Exception?[ranks];
        var threads = Enumerable.Range(0, ranks).Select(r => new Thread(() =>
        {
            try { work(r); }
            catch (Exception e) { errors[r] = e; }
        })).ToArray();
        foreach (var t in threads) t.Start();
        foreach (var t in threads) Assert.True(t.Join(TimeSpan.FromSeconds(60)), "a rank did not return");
        foreach (var error in errors) if (error is not null) throw error;
    }

    [Theory]
    [InlineData(2, 1)]
    [InlineData(2, 64 * 768)]
    [InlineData(3, 1001)]
    // 4 MiB each way: larger than the sockets' buffers, so both ranks must send and read at once.
    [InlineData(2, 1 << 20)]
    public void EveryRankEndsWithTheSharedMemoryAllReducesBits(int ranks, int count)
    {
        using var temporaries = torch.NewDisposeScope();
        var inputs = Enumerable.Range(0, ranks).Select(r => torch.randn(count, generator: new torch.Generator((ulong)(r + 7)))).ToArray();
        var expected = inputs.Select(i => i.clone()).ToArray();
        using (var shared = new SharedMemoryAllReduce(ranks)) OnEveryRank(ranks, r => shared.Sum(r, expected[r]));
        var group = Group(ranks);
        try
        {
            var outputs = inputs.Select(i => i.clone()).ToArray();
            OnEveryRank(ranks, r => group[r].Sum(r, outputs[r]));
            foreach (var output in outputs) Assert.True(output.eq(expected[0]).all().item<bool>(), "every rank holds the shared-memory all-reduce's bits");
        }
        finally
        {
            foreach (var rank in group) rank.Dispose();
        }
    }

    [Fact]
    public void BFloat16IsSummedInFloat32AndRoundedOnce()
    {
        using var temporaries = torch.NewDisposeScope();
        var group = Group(3);
        try
        {
            // 256 + 1 + 1 is 258 in float32 (a bfloat16); added in bfloat16, 256 + 1 would round back to 256 first.
            var outputs = Enumerable.Range(0, 3).Select(r => torch.tensor(r == 0 ? new[] { 256f } : new[] { 1f }).to(torch.ScalarType.BFloat16)).ToArray();
            OnEveryRank(3, r => group[r].Sum(r, outputs[r]));
            Assert.All(outputs, o => Assert.Equal(258f, o.to(torch.ScalarType.Float32).item<float>()));
        }
        finally
        {
            foreach (var rank in group) rank.Dispose();
        }
    }

    [Fact]
    public void ARankWhosePeerIsGoneFailsAtOnceAndAFreshGroupSumsAgain()
    {
        using var temporaries = torch.NewDisposeScope();
        var group = Group(2);
        try
        {
            OnEveryRank(2, r => group[r].Sum(r, torch.ones(4)));
            group[1].Dispose();
            var clock = Stopwatch.StartNew();
            var error = Assert.Throws<AllReduceConnectionException>(() => group[0].Sum(0, torch.ones(4)));
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"failed after {clock.Elapsed.TotalSeconds:0.0} s");
            Assert.Contains("rank 1", error.Message);
            // Broken until formed again: with a new rank 1 the group sums as before.
            Assert.Throws<AllReduceConnectionException>(() => group[0].Sum(0, torch.ones(4)));
            group[1] = new SocketAllReduce(1, 2, "127.0.0.1");
            var endpoints = group.Select(g => g.Endpoint).ToArray();
            foreach (var rank in group) rank.Connect(endpoints, 2, TimeSpan.FromSeconds(30));
            var outputs = new[] { torch.full(4, 1f), torch.full(4, 2f) };
            OnEveryRank(2, r => group[r].Sum(r, outputs[r]));
            Assert.All(outputs, o => Assert.Equal(3f, o[0].item<float>()));
        }
        finally
        {
            foreach (var rank in group) rank.Dispose();
        }
    }

    [Fact]
    public void AnAbortWakesARankWaitingForItsPeer()
    {
        using var temporaries = torch.NewDisposeScope();
        var group = Group(2);
        try
        {
            Exception? error = null;
            var waiting = new Thread(() =>
            {
                try { group[0].Sum(0, torch.ones(8)); }
                catch (Exception e) { error = e; }
            });
            waiting.Start();
            Thread.Sleep(200);
            group[0].Abort("rank 1's node was lost");
            Assert.True(waiting.Join(TimeSpan.FromSeconds(10)), "the waiting rank did not wake");
            Assert.IsType<AllReduceConnectionException>(error);
        }
        finally
        {
            foreach (var rank in group) rank.Dispose();
        }
    }

    /// <summary>Each rank loads only its shard (rank 0 the whole LM head, rank 1 none of it) and computes on its own
    /// thread, as on two nodes: rank 0's logits are the whole model's within 1e-5 relative, and the in-process
    /// ranks' (whose all-reduce sums the same partial products in the same order) to the bit.</summary>
    [Theory]
    [InlineData("stories260K")]
    [InlineData("llama")]
    [InlineData("gpt2")]
    [InlineData("opt")]
    public void RanksOnTwoSocketsComputeTheWholeModelsLogits(string model)
    {
        using var temporaries = torch.NewDisposeScope();
        var options = TensorParallelLogitsTests.Options(model, 1);
        using var whole = Worker.Create(options);
        using var threads = Worker.Create(options with { TensorParallelSize = 2 });
        var group = Group(2);
        var ranks = new WorkerStage[2];
        try
        {
            OnEveryRank(2, r => ranks[r] = Worker.Rank(options with { TensorParallelSize = 2 }, PipelineStage.Whole,
                new TensorShard(r, 2, group[r]) { HeadOnRankZero = true }));
            foreach (var step in TensorParallelLogitsTests.Steps(TensorParallelLogitsTests.Prompts))
            {
                var outputs = new torch.Tensor?[2];
                OnEveryRank(2, r => outputs[r] = ((ModelRunner)ranks[r].Runner).Forward(step));
                using var expected = whole.Runner.Forward(step)!;
                using var inProcess = threads.Runner.Forward(step)!;
                using var actual = outputs[0]!;
                outputs[1]?.Dispose();
                Assert.Equal(expected.shape, actual.shape);
                double scale = expected.abs().max().item<float>();
                double error = (actual - expected).abs().max().item<float>();
                Assert.True(error <= 1e-5 * scale, $"{model} over two socket ranks: max |difference| {error:G3} vs max |logit| {scale:G3}");
                Assert.True(actual.eq(inProcess).all().item<bool>(), $"{model}: the same bits as two rank threads of one process");
            }
        }
        finally
        {
            foreach (var rank in ranks) rank?.Resources.Dispose();
            foreach (var rank in group) rank.Dispose();
        }
    }
}
