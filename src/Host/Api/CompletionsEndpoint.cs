using System.Text.Json;
using LlmEngine.Actors.Engine;
using LlmEngine.Host.Metrics;
using LlmEngine.Kernels.Sampling;
using LlmEngine.Scheduling;
using Microsoft.AspNetCore.Http;
using static LlmEngine.Host.Api.JsonFields;

namespace LlmEngine.Host.Api;

/// <summary>POST /v1/completions: OpenAI's legacy completions with vLLM's extra sampling fields.
/// The prompt is a string, a list of strings, a list of token ids, or a list of such lists.</summary>
internal sealed class CompletionsEndpoint(ILlmEngine engine, ServerMetrics metrics, StructuredOutputs structured, string servedModel)
{
    private const int DefaultMaxTokens = 16;
    private readonly LogprobFormatter _logprobs = new(engine.Tokenizer);

    public async Task Handle(HttpContext context)
    {
        using var doc = await ReadBody(context.Request, context.RequestAborted);
        var body = doc.RootElement;
        RequestChecks.Model(body, servedModel);
        RequestChecks.Serving(engine);

        var prompts = Prompts(body, RequestChecks.TruncateTo(engine, body), context.RequestAborted);
        // As vLLM: refused rather than silently ignored.
        if (Get(body, "suffix") is not null) throw ApiException.BadRequest("suffix is not currently supported", "suffix");
        var maxTokens = Int(body, "max_tokens") ?? DefaultMaxTokens;
        var stream = Bool(body, "stream") ?? false;
        var includeUsage = RequestChecks.IncludeUsage(body, stream);
        var echo = Bool(body, "echo") ?? false;
        _ = String(body, "user"); // accepted, as OpenAI's; only type-checked here
        var sampling = SamplingFields.Read(body, maxTokens, Int(body, "logprobs"));
        // Echoed prompt tokens get logprobs as the completion's do (vLLM): the prompt is scored.
        if (echo && sampling.Logprobs is { } top) sampling = sampling with { PromptLogprobs = sampling.PromptLogprobs ?? top };
        SamplingFields.Validate(sampling);
        int keep = sampling.N;
        sampling = BestOf(body, sampling, stream) with { Guide = structured.Read(body) };
        foreach (var p in prompts) RequestChecks.Prompt(engine, p.TokenIds, maxTokens, "prompt");

        var request = new Completion(ApiJson.NewId("cmpl-"), ApiJson.Now(), prompts, sampling.N, echo, sampling.Logprobs, sampling.PromptLogprobs is not null) { Keep = keep };
        await using var run = await EngineRun.Start(engine, metrics, request.Id, prompts, sampling, context.RequestAborted, RequestChecks.Timeout(body));
        if (stream) await Stream(context, run, request, includeUsage);
        else await context.Response.WriteAsJsonAsync(await Collect(run, request), ApiJson.Options, context.RequestAborted);
    }

    /// <param name="Logprobs">Top alternatives per token (null: no logprobs).</param>
    /// <param name="ScoresPrompt">The prompt is scored: choices carry prompt_logprobs.</param>
    /// <param name="N">Completions generated per prompt; <see cref="Keep"/> of them are returned (best_of).</param>
    private sealed record Completion(string Id, long Created, IReadOnlyList<PromptInput> Prompts, int N, bool Echo, int? Logprobs, bool ScoresPrompt)
    {
        public int Keep { get; init; } = N;
        public int PromptTokens => Prompts.Sum(p => p.TokenIds.Count);
    }

    // OpenAI's best_of: best_of completions are generated per prompt and the n with the highest
    // cumulative log-probability are returned; all of them count as completion tokens.
    private static SamplingParameters BestOf(JsonElement body, SamplingParameters sampling, bool stream)
    {
        if (Int(body, "best_of") is not { } bestOf || bestOf == sampling.N) return sampling;
        if (bestOf < sampling.N)
            throw ApiException.BadRequest($"best_of must be greater than or equal to n, got n={sampling.N} and best_of={bestOf}.", "best_of");
        if (stream) throw ApiException.BadRequest("best_of greater than n cannot be used with stream.", "best_of");
        if (sampling.UseBeamSearch) throw ApiException.BadRequest("best_of greater than n cannot be used with use_beam_search; n is the number of beams.", "best_of");
        var generated = sampling with { N = bestOf };
        SamplingFields.Validate(generated, new Dictionary<string, string> { ["n"] = "best_of" });
        return generated;
    }

    private static IEnumerable<CompletionOutput> Best(IReadOnlyList<CompletionOutput> all, Completion c) => c.Keep == c.N ? all
        : Enumerable.Range(0, c.Prompts.Count).SelectMany(p => all.Skip(p * c.N).Take(c.N).OrderByDescending(o => o.CumulativeLogprob).Take(c.Keep));

    private async Task<CompletionResponse> Collect(EngineRun run, Completion c)
    {
        var acc = new ChoiceAccumulator(c.Prompts.Count, c.N);
        var scores = new IReadOnlyList<PromptLogprob?>?[c.Prompts.Count];
        await foreach (var (p, output) in run.Outputs())
        {
            acc.Add(p, output);
            scores[p] ??= output.PromptLogprobs;
        }
        var choices = Best(acc.Choices, c).Select((s, i) =>
        {
            int p = i / c.Keep;
            var head = c.Echo ? c.Prompts[p].Text ?? "" : "";
            CompletionLogprobs? lp = null;
            if (c.Logprobs is { } top)
            {
                lp = c.Echo ? _logprobs.Prompt(c.Prompts[p].TokenIds, scores[p], top) : null;
                lp = _logprobs.Completion(s.Logprobs, head.Length, lp);
            }
            return new CompletionChoice(i, head + s.Text, lp, s.FinishReason) { PromptLogprobs = PromptLogprobs(c, scores[p]) };
        }).ToList();
        return new CompletionResponse(c.Id, "text_completion", c.Created, servedModel, choices, Usage.Of(c.PromptTokens, acc.CompletionTokens));
    }

    private async Task Stream(HttpContext context, EngineRun run, Completion c, bool includeUsage)
    {
        var sse = await ServerSentEvents.Start(context);
        await StreamGuard.Run(context, sse, async () =>
        {
            var offsets = new int[c.Prompts.Count * c.N];
            var started = new bool[offsets.Length];
            var tracker = new StreamTracker(c.Prompts.Count, c.N);
            var scores = new IReadOnlyList<PromptLogprob?>?[c.Prompts.Count];
            await foreach (var (p, output) in run.Outputs())
            {
                scores[p] ??= output.PromptLogprobs;
                foreach (var d in output.Deltas)
                {
                    var index = p * c.N + d.Index;
                    tracker.Sent(index, d);
                    await Send(p, index, d.Text, d.Logprobs, d.FinishReason);
                }
                foreach (var (index, text, reason) in tracker.Closing(p, output))
                    await Send(p, index, text, [], reason);
            }
            if (includeUsage)
                await sse.Send(new CompletionResponse(c.Id, "text_completion", c.Created, servedModel, [], Usage.Of(c.PromptTokens, tracker.CompletionTokens)));

            async Task Send(int p, int index, string piece, IReadOnlyList<SampledToken> logprobs, string? finishReason)
            {
                var text = piece;
                CompletionLogprobs? lp = null;
                bool first = !started[index];
                if (c.Echo && first)
                {
                    text = (c.Prompts[p].Text ?? "") + text;
                    if (c.Logprobs is { } top) lp = _logprobs.Prompt(c.Prompts[p].TokenIds, scores[p], top);
                }
                started[index] = true;
                // The completion's tokens start after whatever prompt text this chunk echoes.
                if (c.Logprobs is not null) lp = _logprobs.Completion(logprobs, offsets[index] + text.Length - piece.Length, lp);
                offsets[index] += text.Length;
                if (text.Length == 0 && finishReason is null && logprobs.Count == 0 && !(first && c.ScoresPrompt)) return;
                // A choice's first chunk carries its prompt's logprobs.
                await sse.Send(new CompletionResponse(c.Id, "text_completion", c.Created, servedModel,
                    [new CompletionChoice(index, text, lp, finishReason) { PromptLogprobs = first ? PromptLogprobs(c, scores[p]) : null }], null));
            }
        });
    }

    private List<Dictionary<string, PromptTokenLogprob>?>? PromptLogprobs(Completion c, IReadOnlyList<PromptLogprob?>? scores) =>
        c.ScoresPrompt ? _logprobs.PromptLogprobs(scores) : null;

    private IReadOnlyList<PromptInput> Prompts(JsonElement body, int? truncateTo, CancellationToken ct)
    {
        if (Get(body, "prompt") is not { } prompt) throw ApiException.BadRequest("'prompt' is required.", "prompt");
        const string Expected = "a string, a list of strings, a list of token ids, or a list of lists of token ids";
        switch (prompt.ValueKind)
        {
            case JsonValueKind.String:
                return [FromText(prompt.GetString()!, truncateTo, ct)];
            case JsonValueKind.Array when prompt.GetArrayLength() == 0:
                throw ApiException.BadRequest("The prompt cannot be empty.", "prompt");
            case JsonValueKind.Array:
                var first = prompt[0].ValueKind;
                return first switch
                {
                    JsonValueKind.Number => [FromIds(RequestChecks.Truncate([.. prompt.EnumerateArray().Select(e => TokenId(e, "prompt"))], truncateTo))],
                    JsonValueKind.String => [.. prompt.EnumerateArray().Select(e =>
                        e.ValueKind == JsonValueKind.String ? FromText(e.GetString()!, truncateTo, ct) : throw WrongType("prompt", Expected, prompt))],
                    JsonValueKind.Array => [.. prompt.EnumerateArray().Select(e =>
                        e.ValueKind == JsonValueKind.Array ? FromIds(RequestChecks.Truncate([.. e.EnumerateArray().Select(x => TokenId(x, "prompt"))], truncateTo))
                            : throw WrongType("prompt", Expected, prompt))],
                    _ => throw WrongType("prompt", Expected, prompt),
                };
            default:
                throw WrongType("prompt", Expected, prompt);
        }
    }

    // A prompt that may have been truncated (as many tokens as are kept) echoes the text of the tokens kept.
    private PromptInput FromText(string text, int? truncateTo, CancellationToken ct)
    {
        if (text.Length == 0) throw ApiException.BadRequest("The prompt cannot be empty.", "prompt");
        var tokenizer = engine.Tokenizer
            ?? throw ApiException.BadRequest("This model has no tokenizer; send the prompt as token ids.", "prompt");
        var ids = RequestChecks.Tokenize(engine, tokenizer, text, addSpecialTokens: true, "prompt", ct, truncateTo);
        return truncateTo is { } k && ids.Length == k ? FromIds(ids) : new PromptInput(ids, text);
    }

    private PromptInput FromIds(int[] ids) =>
        new(ids, ids.Length > 0 ? engine.Tokenizer?.Decode(ids, skipSpecialTokens: true) : null);
}
