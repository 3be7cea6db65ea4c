using LlmEngine.Host.Chat;

namespace LlmEngine.Tests.Chat;

/// <summary>Terse rendering helpers for the focused tests.</summary>
internal static class Jinja
{
    public static string Render(string source, params (string Name, object? Value)[] variables) =>
        ChatTemplate.Parse(source).Render([], addGenerationPrompt: false, variables.ToDictionary(v => v.Name, v => v.Value));

    public static string RenderMessages(string source, params (string Role, object? Content)[] messages) =>
        ChatTemplate.Parse(source).Render(
            messages.Select(m => (IReadOnlyDictionary<string, object?>)new Dictionary<string, object?> { ["role"] = m.Role, ["content"] = m.Content }).ToList(),
            addGenerationPrompt: true);

    public static ChatTemplateException Fails(string source, params (string Name, object? Value)[] variables) =>
        Assert.Throws<ChatTemplateException>(() => Render(source, variables));
}
