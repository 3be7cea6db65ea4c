using LlmEngine.Actors.Engine;

namespace LlmEngine.Host.Api;

/// <summary>
/// The choices of a non-streamed request: each prompt's final <see cref="RequestOutput.Outputs"/>,
/// which the engine accumulates once for every door (tokens, text, logprobs, finish reason; beam
/// search settles its text only there). Choices are indexed as OpenAI does with several prompts:
/// prompt p's choice i is choice p * n + i.
/// </summary>
internal sealed class ChoiceAccumulator(int prompts, int n)
{
    private readonly CompletionOutput[] _choices = [.. Enumerable.Range(0, prompts * n).Select(i => new CompletionOutput(i % n, [], "", 0, [], "abort"))];

    public IReadOnlyList<CompletionOutput> Choices => _choices;

    public int CompletionTokens => _choices.Sum(c => c.TokenIds.Count);

    public void Add(int prompt, RequestOutput output)
    {
        if (!output.Finished || output.Outputs is null) return;
        foreach (var o in output.Outputs)
            if (o.Index >= 0 && o.Index < n) _choices[prompt * n + o.Index] = o;
    }
}

/// <summary>
/// What a stream has sent of each choice, so that a final output whose
/// <see cref="RequestOutput.Outputs"/> settle more than its deltas did (a finish reason carried
/// only there, beam search's text settled at the end) still reaches the client.
/// </summary>
internal sealed class StreamTracker(int prompts, int n)
{
    private readonly int[] _textSent = new int[prompts * n];
    private readonly int[] _tokens = new int[prompts * n];
    private readonly bool[] _finished = new bool[prompts * n];

    public int CompletionTokens => _tokens.Sum();

    public void Sent(int index, CompletionDelta delta)
    {
        _textSent[index] += delta.Text.Length;
        _tokens[index] += delta.TokenIds.Count;
        _finished[index] |= delta.Finished;
    }

    /// <summary>The closing chunk (choice index, unsent text, finish reason) of each choice the
    /// deltas left open, once the request's final output is in.</summary>
    public IReadOnlyList<(int Index, string Text, string FinishReason)> Closing(int prompt, RequestOutput output)
    {
        if (!output.Finished || output.Outputs is null) return [];
        var closing = new List<(int, string, string)>();
        foreach (var o in output.Outputs)
        {
            if (o.Index < 0 || o.Index >= n) continue;
            var i = prompt * n + o.Index;
            _tokens[i] = Math.Max(_tokens[i], o.TokenIds.Count);
            if (_finished[i]) continue;
            _finished[i] = true;
            closing.Add((i, o.Text.Length > _textSent[i] ? o.Text[_textSent[i]..] : "", o.FinishReason));
        }
        return closing;
    }
}
