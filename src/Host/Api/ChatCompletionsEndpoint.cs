using System.Text;
using System.Text.Json;
using LlmEngine.Actors.Engine;
using LlmEngine.Host.Api.Tools;
using LlmEngine.Host.Chat;
using LlmEngine.Host.Metrics;
using LlmEngine.Kernels.Sampling;
using LlmEngine.Scheduling;
using Microsoft.AspNetCore.Http;
using static LlmEngine.Host.Api.JsonFields;

namespace LlmEngine.Host.Api;

/// <summary>POST /v1/chat/completions: messages through the chat template, then the engine; with
/// tools, the output read into tool calls (<paramref name="autoToolParser"/>: the server's
/// <c>--tool-call-parser</c> when <c>--enable-auto-tool-choice</c> is on).</summary>
internal sealed class ChatCompletionsEndpoint(
    ILlmEngine engine, ServerMetrics metrics, ChatPrompt chat, StructuredOutputs structured, string servedModel, IToolCallParser? autoToolParser = null)
{
    private static readonly Dictionary<string, string> Renamed = new() { ["logprobs"] = "top_logprobs" };
    private readonly LogprobFormatter _logprobs = new(engine.Tokenizer);

    public async Task Handle(HttpContext context)
    {
        using var doc = await ReadBody(context.Request, context.RequestAborted);
        var body = doc.RootElement;
        var stream = Bool(body, "stream") ?? false;
        var includeUsage = RequestChecks.IncludeUsage(body, stream);
        var request = Prepare(body, Renamed, context.RequestAborted);
        var c = new Conversation(ApiJson.NewId("chatcmpl-"), ApiJson.Now(), request.Tokens.Length, request.Sampling.N, request.TopLogprobs, request.Tools);
        PromptInput[] prompts = [new(request.Tokens, null)];
        await using var run = await EngineRun.Start(engine, metrics, c.Id, prompts, request.Sampling, context.RequestAborted, RequestChecks.Timeout(body));
        if (stream) await Stream(context, run, c, includeUsage);
        else await context.Response.WriteAsJsonAsync(await Collect(run, c), ApiJson.Options, context.RequestAborted);
    }

    /// <summary>A chat request read and checked, ready for the engine: the prompt's tokens, the
    /// sampling (with its output constraint), tools, and top logprobs (null: none).</summary>
    public sealed record ChatRequest(int[] Tokens, SamplingParameters Sampling, ToolChoice Tools, int? TopLogprobs);

    /// <summary>Reads and checks a chat-shaped body (also what /v1/responses translates its own
    /// into); <paramref name="rename"/> names fields as the client's endpoint calls them.</summary>
    public ChatRequest Prepare(JsonElement body, IReadOnlyDictionary<string, string> rename, CancellationToken ct)
    {
        RequestChecks.Model(body, servedModel);
        RequestChecks.Serving(engine);
        var tokens = RequestChecks.Truncate(Tokenize(engine, chat, body, ct: ct), RequestChecks.TruncateTo(engine, body));
        // Without a budget the completion may fill the context, as vLLM does.
        var maxTokens = Int(body, "max_completion_tokens") ?? Int(body, "max_tokens") ?? engine.MaxModelLength - tokens.Length;
        if (tokens.Length >= engine.MaxModelLength) throw ApiException.PromptTooLong(engine.MaxModelLength, tokens.Length);
        var wantLogprobs = Bool(body, "logprobs") ?? false;
        var top = Int(body, "top_logprobs");
        if (top is not null && !wantLogprobs)
            throw ApiException.BadRequest("When using `top_logprobs`, `logprobs` must be set to true.", "top_logprobs");
        _ = String(body, "user");
        var sampling = SamplingFields.Read(body, maxTokens, wantLogprobs ? top ?? 0 : null);
        SamplingFields.Validate(sampling, rename);
        var tools = ToolChoice.Read(body, autoToolParser);
        sampling = sampling with { Guide = Guide(body, tools) };
        RequestChecks.Prompt(engine, tokens, maxTokens, "messages");
        return new ChatRequest(tokens, sampling, tools, wantLogprobs ? top ?? 0 : null);
    }

    /// <summary>The prompt's token ids: rendered with add_generation_prompt (default true) and
    /// chat_template_kwargs, then tokenised without adding special tokens again.</summary>
    public static int[] Tokenize(ILlmEngine engine, ChatPrompt chat, JsonElement body, bool addSpecialTokens = false, CancellationToken ct = default)
    {
        var messages = ChatMessages.Read(body);
        var tokenizer = engine.Tokenizer ?? throw ApiException.BadRequest("This model has no tokenizer, so it cannot chat; use /v1/completions with token ids.");
        var extra = new Dictionary<string, object?>();
        if (Get(body, "tools") is { } tools) extra["tools"] = ChatTemplate.FromJson(tools);
        if (Get(body, "chat_template_kwargs") is { } kwargs)
        {
            if (kwargs.ValueKind != JsonValueKind.Object) throw WrongType("chat_template_kwargs", "an object", kwargs);
            foreach (var p in kwargs.EnumerateObject()) extra[p.Name] = ChatTemplate.FromJson(p.Value);
        }
        var prompt = chat.Render(messages, Bool(body, "add_generation_prompt") ?? true, extra);
        return RequestChecks.Tokenize(engine, tokenizer, prompt, addSpecialTokens, "messages", ct);
    }

    /// <summary>The request's output constraint: a structured-outputs field's, or the one that
    /// tool_choice "required" or a named function sets (the two cannot be combined).</summary>
    private Kernels.Structured.TokenGuide? Guide(JsonElement body, ToolChoice tools)
    {
        var guide = structured.Read(body);
        if (tools.Constraint() is not { } spec) return guide;
        if (guide is not null)
            throw ApiException.BadRequest("A structured outputs constraint cannot be combined with tool_choice \"required\" or a named function.", "tool_choice");
        return structured.Compile(spec, "tools");
    }

    private sealed record Conversation(string Id, long Created, int PromptTokens, int N, int? TopLogprobs, ToolChoice Tools);

    private async Task<ChatResponse> Collect(EngineRun run, Conversation c)
    {
        var acc = new ChoiceAccumulator(1, c.N);
        IReadOnlyList<PromptLogprob?>? scores = null;
        await foreach (var (p, output) in run.Outputs())
        {
            acc.Add(p, output);
            scores ??= output.PromptLogprobs;
        }
        var choices = acc.Choices.Select((s, i) =>
        {
            var logprobs = c.TopLogprobs is { } k ? _logprobs.Chat(s.Logprobs, k) : null;
            if (c.Tools.Parser is not { } parser) return new ChatChoice(i, new ChatResponseMessage("assistant", s.Text), logprobs, s.FinishReason);
            var (content, calls) = ToolCallStream.Message(parser, s.Text);
            return new ChatChoice(i, new ChatResponseMessage("assistant", content, calls), logprobs, c.Tools.FinishReason(s.FinishReason, calls is not null));
        }).ToList();
        return new ChatResponse(c.Id, "chat.completion", c.Created, servedModel, choices, Usage.Of(c.PromptTokens, acc.CompletionTokens))
            { PromptLogprobs = _logprobs.PromptLogprobs(scores) };
    }

    private async Task Stream(HttpContext context, EngineRun run, Conversation c, bool includeUsage)
    {
        var sse = await ServerSentEvents.Start(context);
        await StreamGuard.Run(context, sse, async () =>
        {
            // Each choice's first chunk carries the role, as OpenAI's do.
            for (var i = 0; i < c.N; i++)
                await sse.Send(Chunk(c, new ChatChunkChoice(i, new ChatDelta("assistant", ""), null, null)));
            var tracker = new StreamTracker(1, c.N);
            var calls = c.Tools.Parser is { } parser ? Enumerable.Range(0, c.N).Select(_ => new ToolCallStream(parser)).ToArray() : null;
            var texts = Enumerable.Range(0, c.N).Select(_ => new StringBuilder()).ToArray();
            await foreach (var (_, output) in run.Outputs())
            {
                foreach (var d in output.Deltas)
                {
                    tracker.Sent(d.Index, d);
                    if (d.Text.Length == 0 && d.FinishReason is null && (c.TopLogprobs is null || d.Logprobs.Count == 0)) continue;
                    var lp = c.TopLogprobs is { } k ? _logprobs.Chat(d.Logprobs, k) : null;
                    await SendChoice(sse, c, d.Index, d.Text, lp, d.FinishReason, calls, texts);
                }
                foreach (var (index, text, reason) in tracker.Closing(0, output))
                    await SendChoice(sse, c, index, text, null, reason, calls, texts);
            }
            if (includeUsage)
                await sse.Send(new ChatChunk(c.Id, "chat.completion.chunk", c.Created, servedModel, [], Usage.Of(c.PromptTokens, tracker.CompletionTokens)));
        });
    }

    /// <summary>A choice's new text as chunks: as it is, or through its tool-call reader (whose
    /// deltas may be none, or several: a call's name, then its arguments), the last chunk carrying
    /// the logprobs and finish reason.</summary>
    private async Task SendChoice(
        ServerSentEvents sse, Conversation c, int index, string text, ChatLogprobs? logprobs, string? finishReason, ToolCallStream[]? calls, StringBuilder[] texts)
    {
        if (calls is null)
        {
            await sse.Send(Chunk(c, new ChatChunkChoice(index, new ChatDelta(null, text.Length > 0 ? text : null), logprobs, finishReason)));
            return;
        }
        var deltas = calls[index].Next(texts[index].Append(text).ToString(), finishReason is not null);
        var reason = finishReason is null ? null : c.Tools.FinishReason(finishReason, calls[index].Called);
        if (deltas.Count == 0 && (reason is not null || logprobs is not null)) deltas = [new ChatDelta(null, null)];
        for (var i = 0; i < deltas.Count; i++)
        {
            var last = i == deltas.Count - 1;
            await sse.Send(Chunk(c, new ChatChunkChoice(index, deltas[i], last ? logprobs : null, last ? reason : null)));
        }
    }

    private ChatChunk Chunk(Conversation c, ChatChunkChoice choice) =>
        new(c.Id, "chat.completion.chunk", c.Created, servedModel, [choice], null);
}
