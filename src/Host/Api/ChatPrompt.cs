using System.Text.Json;
using LlmEngine.Host.Chat;
using LlmEngine.Kernels.Loading.Gguf;

namespace LlmEngine.Host.Api;

/// <summary>A compiled Jinja chat template: messages in, prompt text out.</summary>
internal delegate string ChatRenderer(
    IReadOnlyList<IReadOnlyDictionary<string, object?>> messages, bool addGenerationPrompt, IReadOnlyDictionary<string, object?>? variables);

/// <summary>
/// Turns chat messages into a prompt with the model's chat template, found as Hugging Face keeps
/// it: <c>chat_template</c> in tokenizer_config.json (a string, or a list of {name, template} of
/// which "default" is used), else chat_template.jinja beside it, or a GGUF file's
/// <c>tokenizer.chat_template</c>; <see cref="ServerOptions.ChatTemplate"/>
/// overrides both. The template sees bos_token and eos_token as tokenizer_config.json names them.
/// The rendered prompt already holds BOS where the template puts it, so callers tokenise it
/// without adding special tokens.
/// </summary>
internal sealed class ChatPrompt
{
    private readonly ChatRenderer? _render;
    private readonly Dictionary<string, object?> _variables = [];

    private ChatPrompt(ChatRenderer? render, string? bos, string? eos)
    {
        _render = render;
        _variables["bos_token"] = bos ?? "";
        _variables["eos_token"] = eos ?? "";
    }

    private static ChatRenderer Compile(string source) => ChatTemplate.Parse(source).Render;

    public bool HasTemplate => _render is not null;

    /// <summary>Finds and compiles the template. A --chat-template that is missing or does not
    /// compile throws (the server should not start); a model's own broken template is reported
    /// per request instead, so the completions endpoint still serves.</summary>
    public static ChatPrompt Load(ServerOptions options)
    {
        string? bos, eos, source;
        if (options.ModelFile is { } gguf && gguf.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase))
            (source, bos, eos) = GgufChatTemplate.Read(gguf);
        else
        {
            var config = ReadTokenizerConfig(options.ModelDirectory);
            bos = SpecialToken(config, "bos_token");
            eos = SpecialToken(config, "eos_token");
            source = ModelTemplate(config, options.ModelDirectory);
        }
        if (options.ChatTemplate is { Length: > 0 } given)
            return new ChatPrompt(Compile(TemplateArgument(given)), bos, eos);
        if (source is null) return new ChatPrompt(null, bos, eos);
        ChatRenderer render;
        try
        {
            render = Compile(source);
        }
        catch (Exception e)
        {
            render = (_, _, _) => throw ApiException.BadRequest($"The model's chat template does not compile: {e.Message}");
        }
        return new ChatPrompt(render, bos, eos);
    }

    public string Render(IReadOnlyList<IReadOnlyDictionary<string, object?>> messages, bool addGenerationPrompt,
        IReadOnlyDictionary<string, object?>? extra = null)
    {
        if (_render is null)
            throw ApiException.BadRequest("This model has no chat template (none in tokenizer_config.json, chat_template.jinja or the GGUF file); "
                + "start the server with --chat-template FILE, or use /v1/completions.");
        // transformers passes tools and documents as None when a request has none.
        var variables = new Dictionary<string, object?>(_variables) { ["tools"] = null, ["documents"] = null };
        if (extra is not null) foreach (var (k, v) in extra) variables[k] = v;
        try
        {
            return _render(messages, addGenerationPrompt, variables);
        }
        catch (ChatTemplateException e)
        {
            // Templates raise on conversations they refuse (roles must alternate, ...): the caller's to fix.
            throw ApiException.BadRequest($"The chat template failed on these messages: {e.Message}", "messages");
        }
    }

    /// <summary>A file, or (as vLLM allows) the template text itself.</summary>
    private static string TemplateArgument(string given)
    {
        if (File.Exists(given)) return File.ReadAllText(given);
        if (given.Contains("{{", StringComparison.Ordinal) || given.Contains("{%", StringComparison.Ordinal)) return given;
        throw new FileNotFoundException($"Chat template file '{given}' not found.", given);
    }

    private static JsonElement? ReadTokenizerConfig(string? directory)
    {
        var path = directory is null ? null : Path.Combine(directory, "tokenizer_config.json");
        if (path is null || !File.Exists(path)) return null;
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        return doc.RootElement.Clone();
    }

    private static string? SpecialToken(JsonElement? config, string name) =>
        config is { } c && c.TryGetProperty(name, out var v) ? v.ValueKind switch
        {
            JsonValueKind.String => v.GetString(),
            JsonValueKind.Object when v.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.String => content.GetString(),
            _ => null,
        } : null;

    private static string? ModelTemplate(JsonElement? config, string? directory)
    {
        if (config is { } c && c.TryGetProperty("chat_template", out var t))
        {
            if (t.ValueKind == JsonValueKind.String) return t.GetString();
            if (t.ValueKind == JsonValueKind.Array)
                foreach (var named in t.EnumerateArray())
                    if (named.ValueKind == JsonValueKind.Object
                        && named.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String && n.GetString() == "default"
                        && named.TryGetProperty("template", out var body) && body.ValueKind == JsonValueKind.String)
                        return body.GetString();
        }
        var jinja = directory is null ? null : Path.Combine(directory, "chat_template.jinja");
        return jinja is not null && File.Exists(jinja) ? File.ReadAllText(jinja) : null;
    }
}
