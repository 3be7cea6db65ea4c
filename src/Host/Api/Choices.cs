using System.Text;
using LlmEngine.Actors.Engine;
using LlmEngine.Kernels.Sampling;

namespace LlmEngine.Host.Api;

/// <summary>What one choice has gained so far.</summary>
public sealed class ChoiceState
{
    public List<int> TokenIds { get; } = [];
    public StringBuilder Text { get; } = new();
    public List<SampledToken> Logprobs { get; } = [];
    public string? FinishReason { get; set; }
}

/// <summary>
/// Collects the choices of a non-streamed request. Choices are indexed as OpenAI does with
/// several prompts: prompt p's choice i is choice p * n + i. A final output's
/// <see cref="RequestOutput.Outputs"/> are taken over the accumulated deltas where present
/// (beam search settles its text only at the end).
/// </summary>
public sealed class ChoiceAccumulator(int prompts, int n)
{
    private readonly ChoiceState[] _choices = [.. Enumerable.Range(0, prompts * n).Select(_ => new ChoiceState())];

    public IReadOnlyList<ChoiceState> Choices => _choices;

    public int CompletionTokens => _choices.Sum(c => c.TokenIds.Count);

    public void Add(int prompt, RequestOutput output)
    {
        foreach (var d in output.Deltas)
        {
            var c = At(prompt, d.Index);
            if (c is null) continue;
            c.TokenIds.AddRange(d.TokenIds);
            c.Text.Append(d.Text);
            c.Logprobs.AddRange(d.Logprobs);
            c.FinishReason = d.FinishReason ?? c.FinishReason;
        }
        if (!output.Finished || output.Outputs is null) return;
        foreach (var o in output.Outputs)
        {
            var c = At(prompt, o.Index);
            if (c is null) continue;
            c.TokenIds.Clear();
            c.TokenIds.AddRange(o.TokenIds);
            c.Text.Clear().Append(o.Text);
            c.Logprobs.Clear();
            c.Logprobs.AddRange(o.Logprobs);
            c.FinishReason = o.FinishReason;
        }
    }

    private ChoiceState? At(int prompt, int index) => index >= 0 && index < n ? _choices[prompt * n + index] : null;
}

/// <summary>
/// What a stream has sent of each choice, so that a final output whose
/// <see cref="RequestOutput.Outputs"/> settle more than its deltas did (a finish reason carried
/// only there, beam search's text settled at the end) still reaches the client.
/// </summary>
public sealed class StreamTracker(int prompts, int n)
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
