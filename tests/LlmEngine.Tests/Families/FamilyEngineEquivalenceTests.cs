using LlmEngine.Actors.Engine;
using LlmEngine.Kernels.Attention;
using LlmEngine.Kernels.Sampling;
using LlmEngine.Scheduling;
using LlmEngine.Tests.Engine;
using LlmEngine.Tests.Loading;
using LlmEngine.Tests.Models;

namespace LlmEngine.Tests.Families;

/// <summary>
/// Every tiny family through the whole engine, on prompts not in the reference files: with a KV
/// budget that forces preemption (recompute and swap), prefix caching on and prompts that share a
/// prefix, each request's greedy tokens equal the dense model's for that request run alone. The
/// windowed families (mistral, starcoder2, gemma2) generate past their windows here.
/// </summary>
[Trait("Category", "Slow")]
public class FamilyEngineEquivalenceTests
{
    private const int KvTokens = 112, SharedPrefix = 24;

    public static TheoryData<string, int, PreemptionMode, string> Configurations()
    {
        var data = new TheoryData<string, int, PreemptionMode, string>();
        foreach (string family in TinyHfReference.Families)
        {
            data.Add(family, 4, PreemptionMode.Recompute, AttentionBackends.Native);
            data.Add(family, 16, PreemptionMode.Swap, AttentionBackends.Torch);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Configurations))]
    public async Task GreedyTokensUnderPreemptionAndPrefixCachingEqualTheDenseModel(string family, int blockSize, PreemptionMode mode, string backend)
    {
        var (prompts, maxTokens) = Workload(family, blockSize);
        var expected = DenseTokens(family, prompts, maxTokens);

        var held = new HeldModels();
        await using var engine = InferenceEngine.Start(new EngineOptions
        {
            Model = SharedModels.TinyHf(family), BlockSize = blockSize, NumBlocks = KvTokens / blockSize, PreemptionMode = mode,
            SwapSpaceGiB = 0.05, MaxNumBatchedTokens = 64, AttentionBackend = backend, EnablePrefixCaching = true,
        }, held.Wrap);
        // The first request runs alone so that its prefix blocks are cached when the others arrive;
        // the others reach the scheduler before any of them runs, so the budget binds.
        var first = await EngineRuns.Final(engine, "r0", prompts[0], Greedy(maxTokens[0]));
        Task<RequestOutput[]>? others = null;
        held.SubmitTogether(
            () => others = Task.WhenAll(prompts.Skip(1).Select((p, i) => EngineRuns.Final(engine, $"r{i + 1}", p, Greedy(maxTokens[i + 1])))));
        var rest = await others!;
        int[][] tokens = [.. new[] { first }.Concat(rest).Select(o => o.Outputs![0].TokenIds.ToArray())];

        for (int i = 0; i < prompts.Length; i++)
            Assert.True(expected[i].SequenceEqual(tokens[i]),
                $"request {i} ({prompts[i].Length} prompt tokens): dense [{string.Join(",", expected[i])}], engine [{string.Join(",", tokens[i])}]");
        var stats = await engine.RefreshStatisticsAsync();
        Assert.True(stats.NumPreemptions > 0, "the KV budget was meant to force preemption");
        Assert.True(stats.PrefixCacheHits > 0, "the shared prefix was meant to be found in the cache");
        await EngineRuns.AssertAllBlocksFree(engine);
    }

    private static SamplingParameters Greedy(int tokens) => new() { Temperature = 0, MaxTokens = tokens, IgnoreEos = true };

    /// <summary>Six prompts that start with one 24-token prefix and six of 1 to 80 random tokens;
    /// 4 to 24 new tokens each (the longest request, 104 tokens, fits the 112-token budget alone;
    /// a windowed family's requests hold fewer blocks, so the budget is that tight).</summary>
    private static (int[][] Prompts, int[] MaxTokens) Workload(string family, int blockSize)
    {
        var random = new Random(family.Length * 97 + blockSize);
        int[] Tokens(int n) => [.. Enumerable.Range(0, n).Select(_ => random.Next(3, 512))];
        var prefix = Tokens(SharedPrefix);
        int[][] prompts =
        [
            .. Enumerable.Range(0, 6).Select(_ => prefix.Concat(Tokens(random.Next(1, 31))).ToArray()),
            .. Enumerable.Range(0, 6).Select(i => Tokens(i == 0 ? 1 : random.Next(2, 81))),
        ];
        return (prompts, [.. prompts.Select(_ => random.Next(4, 25))]);
    }

    private static int[][] DenseTokens(string family, int[][] prompts, int[] maxTokens)
    {
        using var loaded = TinyHfReference.LoadModel(family);
        return [.. prompts.Select((p, i) =>
            DenseGenerator.Generate(loaded.Model, [p], Greedy(maxTokens[i]), loaded.Config.EosTokenIds.ToArray())[0].TokenIds)];
    }
}
