using System.Diagnostics;
using LlmEngine.Actors.Engine;
using LlmEngine.Kernels.Sampling;

namespace LlmEngine.Host.Bench;

/// <summary>The offline throughput result: vLLM's <c>benchmark_throughput</c> keys.</summary>
internal sealed record ThroughputResult(double ElapsedTime, int NumRequests, long TotalNumTokens, long TotalOutputTokens, long TotalPromptTokens)
{
    public double RequestsPerSecond => NumRequests / ElapsedTime;
    public double TokensPerSecond => TotalNumTokens / ElapsedTime;
    public double OutputTokensPerSecond => TotalOutputTokens / ElapsedTime;

    public Dictionary<string, object> ToJson() => new()
    {
        ["elapsed_time"] = ElapsedTime,
        ["num_requests"] = NumRequests,
        ["total_num_tokens"] = TotalNumTokens,
        ["total_output_tokens"] = TotalOutputTokens,
        ["total_prompt_tokens"] = TotalPromptTokens,
        ["requests_per_second"] = RequestsPerSecond,
        ["tokens_per_second"] = TokensPerSecond,
        ["output_tokens_per_second"] = OutputTokensPerSecond,
    };
}

/// <summary>
/// Offline throughput: every request submitted to the in-process engine at once, greedy,
/// EOS ignored so each generates exactly its drawn output length; the clock runs from the first
/// submission to the last request's end.
/// </summary>
internal static class ThroughputBench
{
    /// <param name="onToken">called for every generated token (progress)</param>
    public static async Task<ThroughputResult> RunAsync(InferenceEngine engine, IReadOnlyList<BenchRequest> requests, Action onToken, CancellationToken cancel = default)
    {
        var clock = Stopwatch.StartNew();
        var runs = requests.Select((r, i) => Run(engine, new GenerationRequest($"bench-{i}", r.PromptTokenIds, Sampling(r.OutputLength)), onToken, cancel)).ToList();
        var outputs = await Task.WhenAll(runs);
        double elapsed = clock.Elapsed.TotalSeconds;
        long prompt = requests.Sum(r => (long)r.PromptLength), output = outputs.Sum(n => (long)n);
        return new ThroughputResult(elapsed, requests.Count, prompt + output, output, prompt);
    }

    /// <summary>Greedy, EOS ignored: exactly <paramref name="outputLength"/> tokens.</summary>
    public static SamplingParameters Sampling(int outputLength) => new() { MaxTokens = outputLength, Temperature = 0, IgnoreEos = true };

    /// <summary>Runs one request to its end; returns the tokens it generated.</summary>
    private static async Task<int> Run(InferenceEngine engine, GenerationRequest request, Action onToken, CancellationToken cancel)
    {
        await Task.Yield();
        RequestOutput? last = null;
        await foreach (var output in engine.GenerateAsync(request, cancel))
        {
            last = output;
            foreach (var delta in output.Deltas)
                for (int i = 0; i < delta.TokenIds.Count; i++) onToken();
        }
        if (last?.Outputs is not { Count: > 0 } outputs || outputs[0].FinishReason == "abort")
            throw new InvalidOperationException($"{request.RequestId} did not finish");
        return outputs[0].TokenIds.Count;
    }
}
