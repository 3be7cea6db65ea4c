using System.Text.Json;
using LlmEngine.Actors.Engine;
using LlmEngine.Host.Api;
using LlmEngine.Tests.Loading;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;

namespace LlmEngine.Tests.EndToEnd;

/// <summary>
/// The real thing end to end: one <see cref="InferenceEngine"/> on stories260K behind two servers
/// on free loopback ports, one as <c>serve --model stories260K</c> starts it (the model has no
/// chat template) and one as <c>serve --chat-template chatml.jinja</c> does.
/// </summary>
public class Stories260KServer : IAsyncLifetime
{
    /// <summary>ChatML, as Qwen and others use it; stories260K never saw it, which is fine for plumbing.</summary>
    public const string ChatMl =
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

    private readonly string _templateDirectory = Directory.CreateTempSubdirectory("llmengine-e2e-").FullName;
    private WebApplication _plain = null!, _chat = null!;

    public InferenceEngine Engine { get; private set; } = null!;
    public HttpClient Http { get; private set; } = null!;
    public Uri PlainAddress { get; private set; } = null!;
    public Uri ChatAddress { get; private set; } = null!;
    public string Model => Engine.ModelName;

    /// <summary>KV cache blocks of 16 tokens: few, so that tests meet preemption.</summary>
    protected virtual int NumBlocks => 128;

    public async Task InitializeAsync()
    {
        Engine = InferenceEngine.Start(new EngineOptions { Model = SharedModels.Stories260K, NumBlocks = NumBlocks, BlockSize = 16 });
        var template = Path.Combine(_templateDirectory, "chatml.jinja");
        await File.WriteAllTextAsync(template, ChatMl);
        _plain = await Start(new ServerOptions { Port = 0, ModelDirectory = SharedModels.Stories260K });
        _chat = await Start(new ServerOptions { Port = 0, ModelDirectory = SharedModels.Stories260K, ChatTemplate = template });
        PlainAddress = OpenAiServer.BoundAddress(_plain);
        ChatAddress = OpenAiServer.BoundAddress(_chat);
        Http = new HttpClient { BaseAddress = PlainAddress, Timeout = TimeSpan.FromSeconds(60) };
    }

    private async Task<WebApplication> Start(ServerOptions options)
    {
        var app = OpenAiServer.Build(Engine, options, b => b.Logging.ClearProviders());
        await app.StartAsync();
        return app;
    }

    /// <summary>Polls (a step is milliseconds here) until every KV block is free; the last figures.</summary>
    public async Task<EngineStatistics> WhenAllBlocksFree()
    {
        var stats = await Engine.RefreshStatisticsAsync();
        for (int i = 0; i < 100 && stats.BlocksFree != stats.BlocksTotal; i++)
        {
            await Task.Delay(20);
            stats = await Engine.RefreshStatisticsAsync();
        }
        return stats;
    }

    public static async Task<JsonElement> Json(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {body}");
        return JsonDocument.Parse(body).RootElement;
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        foreach (var app in new[] { _plain, _chat })
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
        await Engine.DisposeAsync();
        Directory.Delete(_templateDirectory, recursive: true);
    }
}

/// <summary>The same servers with room for a few hundred long requests at once.</summary>
public sealed class Stories260KLargeCacheServer : Stories260KServer
{
    protected override int NumBlocks => 8192;
}
