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
