using LlmEngine.Actors.Engine;
using LlmEngine.Contracts;

namespace LlmEngine.Actors.Cluster;

/// <summary>Turns one request's <see cref="RemoteDelta"/>s from another node back into the
/// engine's <see cref="RequestOutput"/>s: a delta each, the last with every completion's
/// accumulated tokens and text (no logprobs cross the wire: such requests stay local).</summary>
internal sealed class RemoteOutputs(GenerationRequest request, int n)
{
    private readonly List<int>[] _tokens = [.. Enumerable.Range(0, n).Select(_ => new List<int>())];
    private readonly System.Text.StringBuilder[] _text = [.. Enumerable.Range(0, n).Select(_ => new System.Text.StringBuilder())];
    private readonly string?[] _reasons = new string?[n];

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
        var delta = new CompletionDelta(d.Index, d.TokenIds, d.Text, [], d.FinishReason);
        return new RequestOutput(request.RequestId, request.PromptTokenIds, [delta], Finished,
            Finished ? [.. Enumerable.Range(0, n).Select(i => new CompletionOutput(i, _tokens[i], _text[i].ToString(), 0, [], _reasons[i]!))] : null);
    }
}
