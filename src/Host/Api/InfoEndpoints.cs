using System.Reflection;
using LlmEngine.Actors.Cluster;
using LlmEngine.Actors.Engine;
using LlmEngine.Host.Metrics;
using Microsoft.AspNetCore.Http;
using static LlmEngine.Host.Api.JsonFields;

namespace LlmEngine.Host.Api;

/// <summary>The endpoints around generation: /v1/models (and one model by id), /health and
/// /ping, /version, /tokenize, /detokenize and /metrics.</summary>
internal sealed class InfoEndpoints(ILlmEngine engine, ServerMetrics metrics, ChatPrompt chat, string servedModel)
{
    private readonly long _started = ApiJson.Now();

    public static string Version { get; } =
        typeof(InfoEndpoints).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]
        ?? typeof(InfoEndpoints).Assembly.GetName().Version?.ToString() ?? "0.0.0";

    public IResult Models() => Results.Json(new ModelList("list", Cards()), ApiJson.Options);

    /// <summary>GET /v1/models/{id}: the card of a model <see cref="Models"/> lists, or 404.</summary>
    public IResult Model(string id) =>
        Cards().FirstOrDefault(c => c.Id == id) is { } card ? Results.Json(card, ApiJson.Options) : throw ApiException.ModelNotFound(id);

    /// <summary>The served model and, on a cluster node, every other model the cluster's replicas serve.</summary>
    private List<ModelCard> Cards()
    {
        var others = (engine as ClusterEngine)?.Directory.Replicas().Where(r => r.Model != engine.ModelName).DistinctBy(r => r.Model)
            .Select(r => new ModelCard(r.Model, "model", _started, "llm-engine", r.Model, r.MaxModelLength)) ?? [];
        return [new ModelCard(servedModel, "model", _started, "llm-engine", engine.ModelName, engine.MaxModelLength), .. others];
    }

    /// <summary>200 with an empty body while serving, as vLLM's; 503 otherwise, saying why when the engine is dead.</summary>
    public async Task Health(HttpContext context)
    {
        if (engine.DeadReason is { } reason) await ApiErrors.Write(context, ApiException.From(new EngineDeadException(reason)));
        else if (engine.UnavailableReason is { } missing) await ApiErrors.Write(context, ApiException.From(new EngineUnavailableException(missing)));
        else if (engine.IsServing) context.Response.StatusCode = 200;
        else await ApiErrors.Write(context, ApiException.NotServing());
    }

    public IResult VersionInfo() => Results.Json(new { version = Version });

    /// <summary>{"prompt"} (special tokens added unless add_special_tokens is false) or
    /// {"messages"} (through the chat template; none added unless asked).</summary>
    public async Task Tokenize(HttpContext context)
    {
        using var doc = await ReadBody(context.Request, context.RequestAborted);
        var body = doc.RootElement;
        RequestChecks.Model(body, servedModel);
        var tokenizer = engine.Tokenizer ?? throw ApiException.BadRequest("This model has no tokenizer.");
        int[] tokens;
        if (Get(body, "messages") is not null)
            tokens = ChatCompletionsEndpoint.Tokenize(engine, chat, body, Bool(body, "add_special_tokens") ?? false, context.RequestAborted);
        else if (String(body, "prompt") is { } prompt)
            tokens = RequestChecks.Tokenize(engine, tokenizer, prompt, Bool(body, "add_special_tokens") ?? true, "prompt", context.RequestAborted);
        else
            throw ApiException.BadRequest("Send either 'prompt' or 'messages'.", "prompt");
        var logprobs = new LogprobFormatter(tokenizer);
        var strings = Bool(body, "return_token_strs") == true ? tokens.Select(logprobs.TokenText).ToList() : null;
        await context.Response.WriteAsJsonAsync(
            new { count = tokens.Length, max_model_len = engine.MaxModelLength, tokens, token_strs = strings }, context.RequestAborted);
    }

    public async Task Detokenize(HttpContext context)
    {
        using var doc = await ReadBody(context.Request, context.RequestAborted);
        var body = doc.RootElement;
        RequestChecks.Model(body, servedModel);
        var tokenizer = engine.Tokenizer ?? throw ApiException.BadRequest("This model has no tokenizer.");
        var tokens = IntList(body, "tokens") ?? throw ApiException.BadRequest("'tokens' is required.", "tokens");
        foreach (var id in tokens)
            if (id >= engine.ModelConfig.VocabSize) throw ApiException.BadRequest($"Token id {id} is out of vocabulary.", "tokens");
        await context.Response.WriteAsJsonAsync(new { prompt = tokenizer.Decode(tokens, skipSpecialTokens: true) }, context.RequestAborted);
    }

    public async Task Metrics(HttpContext context)
    {
        context.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
        await metrics.Export(context.Response.Body, context.RequestAborted);
    }
}
