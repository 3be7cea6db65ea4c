using System.Text.Json;
using LlmEngine.Kernels.Sampling;
using LlmEngine.Kernels.Tokenizers;

namespace LlmEngine.Host.Cli;

/// <summary>One input line of <c>generate</c>: a JSON object with <c>prompt</c> (text) or
/// <c>prompt_token_ids</c>, and optional per-request sampling fields over the command's defaults.</summary>
public sealed record GenerateLine(string? Prompt, int[] PromptTokenIds, SamplingParameters Sampling)
{
    public static GenerateLine Parse(string json, SamplingParameters defaults, ITokenizer? tokenizer)
    {
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object) throw new FormatException("expected a JSON object");
        string? prompt = root.TryGetProperty("prompt", out var p) ? Text(p, "prompt") : null;
        int[]? ids = root.TryGetProperty("prompt_token_ids", out var t) ? Ints(t, "prompt_token_ids") : null;
        if (prompt is null && ids is null) throw new FormatException("needs \"prompt\" or \"prompt_token_ids\"");
        if (ids is null)
        {
            if (tokenizer is null) throw new FormatException("this model has no tokenizer: give \"prompt_token_ids\"");
            ids = tokenizer.Encode(prompt!);
        }
        var sampling = defaults with
        {
            MaxTokens = Int(root, "max_tokens") ?? defaults.MaxTokens,
            Temperature = Number(root, "temperature") ?? defaults.Temperature,
            TopP = Number(root, "top_p") ?? defaults.TopP,
            TopK = Int(root, "top_k") ?? defaults.TopK,
            MinP = Number(root, "min_p") ?? defaults.MinP,
            Seed = root.TryGetProperty("seed", out var s) ? s.GetInt64() : defaults.Seed,
            IgnoreEos = root.TryGetProperty("ignore_eos", out var e) ? e.GetBoolean() : defaults.IgnoreEos,
            N = Int(root, "n") ?? defaults.N,
            MinTokens = Int(root, "min_tokens") ?? defaults.MinTokens,
            PresencePenalty = Number(root, "presence_penalty") ?? defaults.PresencePenalty,
            FrequencyPenalty = Number(root, "frequency_penalty") ?? defaults.FrequencyPenalty,
            RepetitionPenalty = Number(root, "repetition_penalty") ?? defaults.RepetitionPenalty,
            Stop = root.TryGetProperty("stop", out var stop) ? Strings(stop) : defaults.Stop,
            StopTokenIds = root.TryGetProperty("stop_token_ids", out var st) ? Ints(st, "stop_token_ids") : defaults.StopTokenIds,
            Logprobs = Int(root, "logprobs") ?? defaults.Logprobs,
            UseBeamSearch = root.TryGetProperty("use_beam_search", out var b) ? b.GetBoolean() : defaults.UseBeamSearch,
            LengthPenalty = Number(root, "length_penalty") ?? defaults.LengthPenalty,
            EarlyStopping = root.TryGetProperty("early_stopping", out var es) ? EarlyStopping(es) : defaults.EarlyStopping,
        };
        return new GenerateLine(prompt, ids, sampling);
    }

    private static string Text(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.String ? e.GetString()! : throw new FormatException($"\"{name}\" must be a string");

    private static int[] Ints(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Array && e.EnumerateArray().All(x => x.ValueKind == JsonValueKind.Number)
            ? e.EnumerateArray().Select(x => x.GetInt32()).ToArray()
            : throw new FormatException($"\"{name}\" must be a list of integers");

    private static string[] Strings(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.String => [e.GetString()!],
        JsonValueKind.Array => e.EnumerateArray().Select(x => Text(x, "stop")).ToArray(),
        _ => throw new FormatException("\"stop\" must be a string or a list of strings"),
    };

    private static string EarlyStopping(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        JsonValueKind.String when e.GetString() == "never" => "never",
        _ => throw new FormatException("\"early_stopping\" must be true, false or \"never\""),
    };

    private static int? Int(JsonElement root, string name) =>
        root.TryGetProperty(name, out var v) ? v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i) ? i : throw new FormatException($"\"{name}\" must be an integer") : null;

    private static double? Number(JsonElement root, string name) =>
        root.TryGetProperty(name, out var v) ? v.ValueKind == JsonValueKind.Number ? v.GetDouble() : throw new FormatException($"\"{name}\" must be a number") : null;
}
