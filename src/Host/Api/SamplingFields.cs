using System.Text.Json;
using LlmEngine.Kernels.Sampling;
using static LlmEngine.Host.Api.JsonFields;

namespace LlmEngine.Host.Api;

/// <summary>The sampling fields that /v1/completions and /v1/chat/completions share (OpenAI's and
/// vLLM's extra ones), read into <see cref="SamplingParameters"/>. Absent fields keep vLLM's defaults.</summary>
internal static class SamplingFields
{
    /// <param name="maxTokens">The completion budget the endpoint settled on.</param>
    /// <param name="logprobs">Top alternatives per token, or null for none.</param>
    /// <param name="defaults">Values of absent fields (vLLM's when null; generate's command-line flags).</param>
    public static SamplingParameters Read(JsonElement body, int maxTokens, int? logprobs, SamplingParameters? defaults = null)
    {
        var d = defaults ?? new SamplingParameters();
        var earlyStopping = Get(body, "early_stopping") switch
        {
            null => d.EarlyStopping,
            { ValueKind: JsonValueKind.True } => "true",
            { ValueKind: JsonValueKind.False } => "false",
            { ValueKind: JsonValueKind.String } v => v.GetString()!,
            var v => throw WrongType("early_stopping", "a boolean or \"never\"", v.Value),
        };
        // vLLM's spaces_between_special_tokens decides whether Hugging Face's slow tokenizers put
        // spaces around special tokens. These tokenizers decode BPE as the fast ones do and add none,
        // so true and false give the same text, as in vLLM with such a fast tokenizer. Only its type is checked.
        _ = Bool(body, "spaces_between_special_tokens");
        return new SamplingParameters
        {
            N = Int(body, "n") ?? d.N,
            Temperature = Number(body, "temperature") ?? d.Temperature,
            TopP = Number(body, "top_p") ?? d.TopP,
            TopK = Int(body, "top_k") ?? d.TopK,
            MinP = Number(body, "min_p") ?? d.MinP,
            PresencePenalty = Number(body, "presence_penalty") ?? d.PresencePenalty,
            FrequencyPenalty = Number(body, "frequency_penalty") ?? d.FrequencyPenalty,
            RepetitionPenalty = Number(body, "repetition_penalty") ?? d.RepetitionPenalty,
            Seed = Long(body, "seed") ?? d.Seed,
            MaxTokens = maxTokens,
            MinTokens = Int(body, "min_tokens") ?? d.MinTokens,
            IgnoreEos = Bool(body, "ignore_eos") ?? d.IgnoreEos,
            Stop = StringOrList(body, "stop") ?? d.Stop,
            StopTokenIds = IntList(body, "stop_token_ids") ?? d.StopTokenIds,
            IncludeStopStringInOutput = Bool(body, "include_stop_str_in_output") ?? d.IncludeStopStringInOutput,
            SkipSpecialTokens = Bool(body, "skip_special_tokens") ?? d.SkipSpecialTokens,
            LogitBias = LogitBias(body) ?? d.LogitBias,
            Logprobs = logprobs,
            PromptLogprobs = Int(body, "prompt_logprobs") ?? d.PromptLogprobs,
            UseBeamSearch = Bool(body, "use_beam_search") ?? d.UseBeamSearch,
            LengthPenalty = Number(body, "length_penalty") ?? d.LengthPenalty,
            EarlyStopping = earlyStopping,
        };
    }

    /// <summary>OpenAI's logit_bias: an object from token ids (as strings, JSON keys being strings)
    /// to the number added to that token's logit. Ranges are the engine's to check.</summary>
    private static IReadOnlyDictionary<int, double>? LogitBias(JsonElement body)
    {
        if (Get(body, "logit_bias") is not { } field) return null;
        if (field.ValueKind != JsonValueKind.Object) throw WrongType("logit_bias", "an object from token ids to numbers", field);
        var bias = new Dictionary<int, double>();
        foreach (var entry in field.EnumerateObject())
        {
            if (!int.TryParse(entry.Name, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var id))
                throw ApiException.BadRequest($"'logit_bias' keys must be token ids (non-negative integers), got \"{ApiException.Echo(entry.Name)}\"", "logit_bias");
            if (entry.Value.ValueKind != JsonValueKind.Number)
                throw WrongType("logit_bias", "an object from token ids to numbers", entry.Value);
            bias[id] = entry.Value.GetDouble();
        }
        return bias;
    }

    /// <summary>Validates, turning the engine's <see cref="ArgumentException"/> into a 400 that names
    /// the field (renamed where the endpoint calls it otherwise, e.g. chat's "top_logprobs").</summary>
    public static void Validate(SamplingParameters sampling, IReadOnlyDictionary<string, string>? rename = null)
    {
        try
        {
            sampling.Validate();
        }
        catch (ArgumentException e)
        {
            var param = e.ParamName is { } p && rename is not null && rename.TryGetValue(p, out var r) ? r : e.ParamName;
            throw ApiException.BadRequest(StripParamSuffix(e), param);
        }
    }

    /// <summary>ArgumentException.Message appends " (Parameter 'x')"; the error object has its own param.</summary>
    public static string StripParamSuffix(ArgumentException e)
    {
        var m = e.Message;
        var i = e.ParamName is null ? -1 : m.LastIndexOf($" (Parameter '{e.ParamName}')", StringComparison.Ordinal);
        return i >= 0 ? m[..i] : m;
    }
}
