using System.Text.Json;
using LlmEngine.Host.Chat;

namespace LlmEngine.Tests.Chat;

/// <summary>
/// One rendering case in the layout of shared/reference/chat-templates.json: messages,
/// add_generation_prompt, then every other key except the bookkeeping ones becomes a
/// template variable; the outcome is <c>expected</c> text or an <c>expected_error</c> message.
/// </summary>
internal static class RenderCase
{
    private static readonly HashSet<string> NotVariables =
        ["template", "conversation", "messages", "add_generation_prompt", "expected", "expected_error", "name"];

    public static void AssertRenders(string source, JsonElement @case)
    {
        var messages = @case.TryGetProperty("messages", out var m) ? ChatTemplate.MessagesFromJson(m) : [];
        var addGenerationPrompt = @case.TryGetProperty("add_generation_prompt", out var g) && g.GetBoolean();
        var variables = @case.EnumerateObject()
            .Where(p => !NotVariables.Contains(p.Name))
            .ToDictionary(p => p.Name, p => ChatTemplate.FromJson(p.Value));

        if (@case.TryGetProperty("expected_error", out var error))
        {
            var ex = Assert.Throws<ChatTemplateException>(() => ChatTemplate.Parse(source).Render(messages, addGenerationPrompt, variables));
            Assert.Equal(error.GetString(), ex.Message);
        }
        else
        {
            Assert.Equal(@case.GetProperty("expected").GetString(), ChatTemplate.Parse(source).Render(messages, addGenerationPrompt, variables));
        }
    }
}
