using LlmEngine.Actors.Engine;
using LlmEngine.Kernels.Sampling;

namespace LlmEngine.Host.Hosting;

/// <summary>Follows one request's outputs so that, when shutdown cuts it short, its stream can end
/// the way every stream ends: with a final output whose unfinished completions say "abort" and
/// hold what they had generated.</summary>
internal sealed class AbortedOutput(GenerationRequest request)
{
    private readonly Dictionary<int, (List<int> Tokens, System.Text.StringBuilder Text, List<SampledToken> Logprobs, string? Reason)> _completions = [];

    public void Observe(RequestOutput output)
    {
        foreach (var delta in output.Deltas)
        {
            var c = At(delta.Index);
            c.Tokens.AddRange(delta.TokenIds);
            c.Text.Append(delta.Text);
            c.Logprobs.AddRange(delta.Logprobs);
            _completions[delta.Index] = c with { Reason = delta.FinishReason ?? c.Reason };
        }
    }

    public RequestOutput Final()
    {
        var indices = Enumerable.Range(0, request.Sampling.N).ToList();
        var deltas = indices.Where(i => At(i).Reason is null)
            .Select(i => new CompletionDelta(i, [], "", [], "abort")).ToList();
        var outputs = indices.Select(i => At(i)).Select((c, i) =>
            new CompletionOutput(i, c.Tokens, c.Text.ToString(), c.Logprobs.Sum(t => (double)t.Logprob), c.Logprobs, c.Reason ?? "abort")).ToList();
        return new RequestOutput(request.RequestId, request.PromptTokenIds, deltas, true, outputs);
    }

    private (List<int> Tokens, System.Text.StringBuilder Text, List<SampledToken> Logprobs, string? Reason) At(int index)
    {
        if (!_completions.TryGetValue(index, out var c)) _completions[index] = c = ([], new(), [], null);
        return c;
    }
}
