using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using LlmEngine.Host.Api;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;

namespace LlmEngine.Tests.Server;

/// <summary>A real server on a free loopback port over a <see cref="FakeEngine"/>.</summary>
public sealed class ServerHost : IAsyncDisposable
{
    private ServerHost(WebApplication app, FakeEngine engine)
    {
        App = app;
        Engine = engine;
        BaseAddress = OpenAiServer.BoundAddress(app);
        Http = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
    }

    public WebApplication App { get; }
    public FakeEngine Engine { get; }
    public Uri BaseAddress { get; }
    public HttpClient Http { get; }

    public static async Task<ServerHost> Start(FakeEngine? engine = null, Action<ServerOptions>? configure = null)
    {
        engine ??= new FakeEngine();
        var options = new ServerOptions { Host = "127.0.0.1", Port = 0, ModelDirectory = TestModel.Directory };
        configure?.Invoke(options);
        var app = OpenAiServer.Build(engine, options, b => b.Logging.ClearProviders());
        await app.StartAsync();
        return new ServerHost(app, engine);
    }

    public Task<HttpResponseMessage> Post(string path, object body) => Http.PostAsJsonAsync(path, body);

    public Task<HttpResponseMessage> PostRaw(string path, string body, string contentType = "application/json") =>
        Http.PostAsync(path, new StringContent(body, Encoding.UTF8, contentType));

    public static async Task<JsonElement> Json(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
    }
}

/// <summary>A model directory with a tokenizer_config.json whose chat template marks roles and
/// starts with BOS, as LLaMA-style templates do.</summary>
public static class TestModel
{
    public const string Template =
        "{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}";

    public static string Directory { get; } = Create(new { chat_template = Template, bos_token = "<s>", eos_token = new { content = "</s>" } });

    public static string Create(object tokenizerConfig)
    {
        var dir = Path.Combine(Path.GetTempPath(), "llm-engine-tests", Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), JsonSerializer.Serialize(tokenizerConfig));
        return dir;
    }
}
