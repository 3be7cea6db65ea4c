using System.Text.Json;
using System.Text.Json.Nodes;
using LlmEngine.Actors.Engine;

namespace LlmEngine.Host.Cli;

/// <summary>Runs one request to completion and renders its output line: prompt, prompt_token_ids,
/// token_ids and text of the best completion, finish_reason, and with n &gt; 1 or beam search an
/// <c>outputs</c> list (best first). No timings, so identical runs give identical files.</summary>
internal static class GenerateOutput
{
    public static async Task<string> RunAsync(InferenceEngine engine, GenerationRequest request, CancellationToken cancel)
    {
        RequestOutput? last = null;
        await foreach (var output in engine.GenerateAsync(request, cancel)) last = output;
        var outputs = last?.Outputs ?? throw new InvalidOperationException($"{request.RequestId} ended without output");
        var best = outputs[0];
        var line = new JsonObject
        {
            ["prompt"] = request.Prompt,
            ["prompt_token_ids"] = new JsonArray(request.PromptTokenIds.Select(t => JsonValue.Create(t)).ToArray<JsonNode?>()),
            ["token_ids"] = Ids(best.TokenIds),
            ["text"] = best.Text,
            ["finish_reason"] = best.FinishReason,
        };
        if (outputs.Count > 1 || request.Sampling.UseBeamSearch)
            line["outputs"] = new JsonArray(outputs.Select(o => (JsonNode?)new JsonObject
            {
                ["token_ids"] = Ids(o.TokenIds),
                ["text"] = o.Text,
                ["finish_reason"] = o.FinishReason,
                ["cumulative_logprob"] = Math.Round(o.CumulativeLogprob, 6),
            }).ToArray());
        return line.ToJsonString(new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
    }

    private static JsonArray Ids(IReadOnlyList<int> ids) => new(ids.Select(t => JsonValue.Create(t)).ToArray<JsonNode?>());
}
