namespace LlmEngine.Host.Api;

/// <summary>Settings of the OpenAI-compatible server (the `serve` command's flags, or section "Server").</summary>
public sealed class ServerOptions
{
    /// <summary>Address to bind; "0.0.0.0" for all interfaces.</summary>
    public string Host { get; set; } = "127.0.0.1";
    /// <summary>0: any free port (read the bound one from <see cref="OpenAiServer.BoundAddress"/>).</summary>
    public int Port { get; set; } = 8000;
    /// <summary>When set, requests to /v1/* must carry "Authorization: Bearer {ApiKey}".</summary>
    public string? ApiKey { get; set; }
    /// <summary>The name clients pass as "model"; null: the engine's <c>ModelName</c>.</summary>
    public string? ServedModelName { get; set; }
    /// <summary>The model's directory, where tokenizer_config.json (chat template, BOS and EOS
    /// strings) and chat_template.jinja are looked for; null: no chat template from the model.</summary>
    public string? ModelDirectory { get; set; }
    /// <summary>The model file when it carries its own chat template (a .gguf: tokenizer.chat_template and
    /// the BOS/EOS token texts); used instead of <see cref="ModelDirectory"/>'s files.</summary>
    public string? ModelFile { get; set; }
    /// <summary>A Jinja chat template file (or the template text itself) that overrides the model's.</summary>
    public string? ChatTemplate { get; set; }
    /// <summary>Serve the live dashboard at /dashboard (guarded by <see cref="ApiKey"/> when set).</summary>
    public bool Dashboard { get; set; } = true;
    /// <summary>How often a connected dashboard gets a frame (each costs the engine one block-map copy).</summary>
    public TimeSpan DashboardInterval { get; set; } = TimeSpan.FromMilliseconds(250);
    /// <summary>Write a Chrome trace of every step and request to this file, from start to shutdown.</summary>
    public string? TraceFile { get; set; }
    /// <summary>Export OpenTelemetry traces of HTTP requests over OTLP to this endpoint; null: no tracing.</summary>
    public string? OtlpTracesEndpoint { get; set; }
    /// <summary>Origins browsers may call the API from (CORS), e.g. "https://app.example"; "*" for
    /// any. Empty (the default): no CORS headers, so browsers refuse cross-origin calls.</summary>
    public IReadOnlyList<string> AllowedOrigins { get; set; } = [];
    /// <summary>Let tool_choice "auto" (the default with tools) read the model's own tool calls with
    /// <see cref="ToolCallParser"/>; off, such a request is a 400, as in vLLM.</summary>
    public bool EnableAutoToolChoice { get; set; }
    /// <summary>The model's tool-call format: "hermes", "llama3_json" or "mistral" (vLLM's names).</summary>
    public string? ToolCallParser { get; set; }
    /// <summary>Largest request body accepted; larger ones get 413.</summary>
    public long MaxRequestBodyBytes { get; set; } = 16 * 1024 * 1024;
}
