using System.Text.Json;
using LlmEngine.Host.Api;
using LlmEngine.Kernels.Sampling;
using LlmEngine.Kernels.Tokenizers;
using static LlmEngine.Host.Api.JsonFields;

namespace LlmEngine.Host.Cli;

/// <summary>One input line of <c>generate</c>: a JSON object with <c>prompt</c> (text) or
/// <c>prompt_token_ids</c>, and optional per-request sampling fields over the command's defaults.
/// The fields are read as the HTTP API reads them (same names, types and checks).</summary>
internal sealed record GenerateLine(string? Prompt, int[] PromptTokenIds, SamplingParameters Sampling)
{
    public static GenerateLine Parse(string json, SamplingParameters defaults, ITokenizer? tokenizer)
    {
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object) throw new FormatException("expected a JSON object");
        try
        {
            string? prompt = String(root, "prompt");
            var ids = IntList(root, "prompt_token_ids")?.ToArray();
            if (prompt is null && ids is null) throw new FormatException("needs \"prompt\" or \"prompt_token_ids\"");
            if (ids is null)
            {
                if (tokenizer is null) throw new FormatException("this model has no tokenizer: give \"prompt_token_ids\"");
                ids = tokenizer.Encode(prompt!);
            }
            var sampling = SamplingFields.Read(root, Int(root, "max_tokens") ?? defaults.MaxTokens, Int(root, "logprobs") ?? defaults.Logprobs, defaults);
            return new GenerateLine(prompt, ids, sampling);
        }
        catch (ApiException e)
        {
            throw new FormatException(e.Message);
        }
    }
}
