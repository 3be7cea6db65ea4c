using System.Text.Json;
using LlmEngine.Actors.Engine;
using LlmEngine.Kernels.Tokenizers;
using static LlmEngine.Host.Api.JsonFields;

namespace LlmEngine.Host.Api;

/// <summary>Checks every generation request goes through, before anything reaches the engine.</summary>
internal static class RequestChecks
{
    /// <summary>"model" may be omitted (the served model is meant); another name is a 404.</summary>
    public static void Model(JsonElement body, string servedModel)
    {
        var model = String(body, "model");
        if (model is not null && model != servedModel) throw ApiException.ModelNotFound(model);
    }

    /// <summary>Refuses a request an engine that cannot serve; one that is only missing a part for now
    /// (<see cref="ILlmEngine.UnavailableReason"/>) decides itself whether the request waits for it.</summary>
    public static void Serving(ILlmEngine engine)
    {
        if (!engine.IsServing && engine.UnavailableReason is null) throw ApiException.NotServing();
    }

    /// <summary>The engine's prompt checks (<see cref="RequestValidation"/>), as a 400 naming the field.</summary>
    public static void Prompt(ILlmEngine engine, IReadOnlyList<int> tokens, int maxTokens, string param)
    {
        try
        {
            RequestValidation.Prompt(tokens, maxTokens, engine.ModelConfig.VocabSize, engine.MaxModelLength, param);
        }
        catch (ArgumentException e)
        {
            throw ApiException.BadRequest(SamplingFields.StripParamSuffix(e), e.ParamName);
        }
    }

    /// <summary>A prompt's text as token ids, refused with a 400 naming <paramref name="param"/> before
    /// any tokenizing when it is longer than the context could hold (<see cref="RequestValidation.PromptText"/>);
    /// the tokenizing stops when the client leaves.</summary>
    /// <param name="truncateTo">Keep only the last this many tokens (<see cref="TruncateTo"/>): a text longer than
    /// they could span is cut to its tail before tokenizing, so a long text is not refused.</param>
    public static int[] Tokenize(ILlmEngine engine, ITokenizer tokenizer, string text, bool addSpecialTokens, string param, CancellationToken ct, int? truncateTo = null)
    {
        try
        {
            if (truncateTo is { } k && text.Length > (long)k * TokenizerBounds.MaxCharsPerToken(tokenizer))
                text = text[(int)(text.Length - (long)k * TokenizerBounds.MaxCharsPerToken(tokenizer))..];
            return Truncate(RequestValidation.Tokenize(text, addSpecialTokens, tokenizer, engine.MaxModelLength, param, ct), truncateTo);
        }
        catch (ArgumentException e)
        {
            throw ApiException.BadRequest(SamplingFields.StripParamSuffix(e), e.ParamName);
        }
    }

    /// <summary>vLLM's truncate_prompt_tokens: only the last k prompt tokens are kept (-1: the model's
    /// maximum length), null when absent.</summary>
    public static int? TruncateTo(ILlmEngine engine, JsonElement body)
    {
        if (Int(body, "truncate_prompt_tokens") is not { } k) return null;
        if (k == -1) return engine.MaxModelLength;
        if (k < 1 || k > engine.MaxModelLength)
            throw ApiException.BadRequest($"truncate_prompt_tokens must be -1 or in [1, {engine.MaxModelLength}] (the model's maximum length), got {k}.", "truncate_prompt_tokens");
        return k;
    }

    /// <summary>The last <paramref name="truncateTo"/> of the tokens (all of them when null or fewer).</summary>
    public static int[] Truncate(int[] tokens, int? truncateTo) => truncateTo is { } k && tokens.Length > k ? tokens[^k..] : tokens;

    /// <summary>Longest "timeout" accepted: a day.</summary>
    public const double MaxTimeoutSeconds = 86_400;

    /// <summary>The extra field "timeout": seconds the request may take from its arrival, after which it
    /// ends as an abort would (finish_reason "abort", what was generated so far kept). Absent: no limit.</summary>
    public static TimeSpan? Timeout(JsonElement body)
    {
        if (Number(body, "timeout") is not { } seconds) return null;
        if (!(seconds > 0 && seconds <= MaxTimeoutSeconds))
            throw ApiException.BadRequest($"'timeout' must be a number of seconds greater than 0 and at most {MaxTimeoutSeconds}.", "timeout");
        return TimeSpan.FromSeconds(seconds);
    }

    /// <summary>stream_options.include_usage; stream_options without stream is an error, as in OpenAI.</summary>
    public static bool IncludeUsage(JsonElement body, bool stream)
    {
        if (Get(body, "stream_options") is not { } options) return false;
        if (options.ValueKind != JsonValueKind.Object) throw WrongType("stream_options", "an object", options);
        if (!stream) throw ApiException.BadRequest("Stream options can only be defined when `stream=True`.", "stream_options");
        return Bool(options, "include_usage") ?? false;
    }
}
