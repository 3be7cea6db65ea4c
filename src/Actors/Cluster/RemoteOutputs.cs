using LlmEngine.Actors.Engine;
using LlmEngine.Contracts;
using LlmEngine.Scheduling;

namespace LlmEngine.Actors.Cluster;

/// <summary>Turns one request's <see cref="RemoteDelta"/>s from another node back into the
/// engine's <see cref="RequestOutput"/>s: a delta each, the last with every completion's
/// accumulated tokens, text and (when asked) logprobs.</summary>
internal sealed class RemoteOutputs(GenerationRequest request, int n)
{
    private readonly List<int>[] _tokens = [.. Enumerable.Range(0, n).Select(_ => new List<int>())];
    private readonly System.Text.StringBuilder[] _text = [.. Enumerable.Range(0, n).Select(_ => new System.Text.StringBuilder())];
    private readonly string?[] _reasons = new string?[n];
    private readonly List<SampledToken>[] _logprobs = [.. Enumerable.Range(0, n).Select(_ => new List<SampledToken>())];

    public bool Finished => _reasons.All(r => r is not null);

    /// <summary>Whether any completion got a token (then the request cannot be run again elsewhere).</summary>
    public bool Started => _tokens.Any(t => t.Count > 0);

    /// <summary>The finish reason of a request ended early (by its replica stopping, here).</summary>
    public const string Abort = "abort";

    public RequestOutput Add(RemoteDelta d)
    {
        if (d.Index < 0 || d.Index >= n) throw new InvalidOperationException($"a replica sent completion {d.Index} of a request with n={n}");
        _tokens[d.Index].AddRange(d.TokenIds);
        _text[d.Index].Append(d.Text);
        _reasons[d.Index] ??= d.FinishReason;
        SampledToken[] logprobs = d.Logprobs is { } l ? [.. l.Zip(d.TokenIds, Sampled)] : [];
        _logprobs[d.Index].AddRange(logprobs);
        var delta = new CompletionDelta(d.Index, d.TokenIds, d.Text, logprobs, d.FinishReason);
        return new RequestOutput(request.RequestId, request.PromptTokenIds, [delta], Finished,
            Finished ? [.. Enumerable.Range(0, n).Select(Output)] : null);
    }

    // The logit does not cross the wire (nothing after the engine reads it); the cumulative
    // log-probability is known when the logprobs came.
    private static SampledToken Sampled(RemoteLogprob l, int token) =>
        new(token, 0, l.Logprob, [.. l.TopIds.Zip(l.TopLogprobs, (id, lp) => new TokenLogprob(id, lp))]);

    private CompletionOutput Output(int i) =>
        new(i, _tokens[i], _text[i].ToString(), _logprobs[i].Sum(t => (double)t.Logprob), _logprobs[i], _reasons[i]!);
}
