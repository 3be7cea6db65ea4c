using LlmEngine.Scheduling;

namespace LlmEngine.Kernels.Sampling;

/// <summary>How one request turns logits into tokens and when it stops; the fields and their
/// defaults follow vLLM's SamplingParams (and so OpenAI's API).</summary>
public sealed record SamplingParameters
{
    public int N { get; init; } = 1;
    public double Temperature { get; init; } = 1.0;
    public double TopP { get; init; } = 1.0;
    /// <summary>0 or -1: all tokens.</summary>
    public int TopK { get; init; }
    public double MinP { get; init; }
    public double PresencePenalty { get; init; }
    public double FrequencyPenalty { get; init; }
    public double RepetitionPenalty { get; init; } = 1.0;
    public long? Seed { get; init; }
    public int MaxTokens { get; init; } = 16;
    public int MinTokens { get; init; }
    public bool IgnoreEos { get; init; }
    public IReadOnlyList<string> Stop { get; init; } = [];
    public IReadOnlyList<int> StopTokenIds { get; init; } = [];
    public bool IncludeStopStringInOutput { get; init; }
    /// <summary>Number of most likely alternatives to return with each sampled token (null: none).</summary>
    public int? Logprobs { get; init; }
    /// <summary>Score the prompt too (vLLM's prompt_logprobs): each prompt token's log-probability
    /// given those before it, with this many alternatives (null: the prompt is not scored).</summary>
    public int? PromptLogprobs { get; init; }
    /// <summary>Whether special tokens (BOS, EOS, control tokens) are left out of the output text.</summary>
    public bool SkipSpecialTokens { get; init; } = true;
    /// <summary>Added to a token's logit before any other step (OpenAI's logit_bias): -100 bans it
    /// in practice, 100 all but forces it.</summary>
    public IReadOnlyDictionary<int, double> LogitBias { get; init; } = NoBias;
    public bool UseBeamSearch { get; init; }
    public double LengthPenalty { get; init; } = 1.0;
    /// <summary>"true", "false" or "never", as Hugging Face's beam search defines them.</summary>
    public string EarlyStopping { get; init; } = "false";

    /// <summary>The compiled constraint the output must satisfy (structured outputs); null: none.</summary>
    public Structured.TokenGuide? Guide { get; init; }

    /// <summary>Below this temperature sampling is greedy (vLLM's _SAMPLING_EPS): dividing by a
    /// temperature that is zero, or nearly, as a float32 would turn the logits into NaN.</summary>
    public const double GreedyTemperature = 1e-5;

    public bool IsGreedy => Temperature < GreedyTemperature || TopK == 1;
    public bool HasPenalties => PresencePenalty != 0 || FrequencyPenalty != 0 || RepetitionPenalty != 1.0;

    public const int MaxLogprobs = 20;
    public const double MaxLogitBias = 100;
    private static readonly IReadOnlyDictionary<int, double> NoBias = new Dictionary<int, double>();

    /// <summary>What the scheduler acts on: how many completions and when each ends.</summary>
    public CompletionTerms ToCompletionTerms() => new()
    {
        N = N, MaxTokens = MaxTokens, MinTokens = MinTokens, IgnoreEos = IgnoreEos, StopTokenIds = StopTokenIds,
        UseBeamSearch = UseBeamSearch, LengthPenalty = LengthPenalty, EarlyStopping = EarlyStopping, Logprobs = Logprobs ?? 0,
        ScoresPrompt = PromptLogprobs is not null,
    };

    /// <summary>A penalty divides positive float32 logits; far below 1 (1e-39 is 0 as a float) it
    /// overflows them to infinity, even before the temperature divides them again.</summary>
    public const double MinRepetitionPenalty = 1e-6;

    /// <summary>Throws <see cref="ArgumentException"/> whose ParamName is the API field at fault.</summary>
    public void Validate()
    {
        Check(N >= 1, "n", $"n must be at least 1, got {N}");
        Check(Temperature >= 0 && double.IsFinite(Temperature), "temperature", $"temperature must be non-negative, got {Temperature}");
        Check(TopP > 0 && TopP <= 1, "top_p", $"top_p must be in (0, 1], got {TopP}");
        Check(TopK >= -1, "top_k", $"top_k must be -1 (disable), or at least 1, got {TopK}");
        Check(MinP >= 0 && MinP <= 1, "min_p", $"min_p must be in [0, 1], got {MinP}");
        Check(PresencePenalty >= -2 && PresencePenalty <= 2, "presence_penalty", $"presence_penalty must be in [-2, 2], got {PresencePenalty}");
        Check(FrequencyPenalty >= -2 && FrequencyPenalty <= 2, "frequency_penalty", $"frequency_penalty must be in [-2, 2], got {FrequencyPenalty}");
        Check(RepetitionPenalty >= MinRepetitionPenalty && RepetitionPenalty <= 2, "repetition_penalty",
            $"repetition_penalty must be in [{MinRepetitionPenalty}, 2], got {RepetitionPenalty}");
        Check(MaxTokens >= 1, "max_tokens", $"max_tokens must be at least 1, got {MaxTokens}");
        Check(MinTokens >= 0 && MinTokens <= MaxTokens, "min_tokens", $"min_tokens must be in [0, max_tokens], got {MinTokens}");
        Check(Logprobs is null || (Logprobs >= 0 && Logprobs <= MaxLogprobs), "logprobs", $"logprobs must be in [0, {MaxLogprobs}], got {Logprobs}");
        Check(PromptLogprobs is null || (PromptLogprobs >= 0 && PromptLogprobs <= MaxLogprobs), "prompt_logprobs", $"prompt_logprobs must be in [0, {MaxLogprobs}], got {PromptLogprobs}");
        Check(LengthPenalty is > -100 and < 100, "length_penalty", $"length_penalty out of range: {LengthPenalty}");
        Check(EarlyStopping is "true" or "false" or "never", "early_stopping", $"early_stopping must be true, false or \"never\", got {EarlyStopping}");
        foreach (var s in Stop) Check(s.Length > 0, "stop", "stop strings must not be empty");
        foreach (var (id, bias) in LogitBias)
        {
            Check(id >= 0, "logit_bias", $"logit_bias keys must be non-negative token ids, got {id}");
            Check(bias >= -MaxLogitBias && bias <= MaxLogitBias, "logit_bias", $"logit_bias values must be in [-{MaxLogitBias}, {MaxLogitBias}], got {bias} for token {id}");
        }
    }

    private static void Check(bool condition, string parameter, string message)
    {
        if (!condition) throw new ArgumentException(message, parameter);
    }
}
