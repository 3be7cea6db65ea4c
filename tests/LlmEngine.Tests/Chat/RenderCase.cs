using System.Text.Json;
using LlmEngine.Host.Chat;

namespace LlmEngine.Tests.Chat;

/// <summary>
/// One rendering case in the layout of shared/reference/chat-templates.json: messages,
/// add_generation_prompt, then every other key except the bookkeeping ones becomes a
/// template variable; the outcome is <c>expected</c> text, an <c>expected_error</c> message
/// (raise_exception), or <c>fails</c>: the Python error Jinja hit, as "TypeError: message", whose
/// message must match.
/// </summary>
internal static class RenderCase
{
    private static readonly HashSet<string> NotVariables =
        ["template", "conversation", "messages", "add_generation_prompt", "expected", "expected_error", "fails"];

    public static void AssertRenders(string source, JsonElement @case)
    {
        var messages = @case.TryGetProperty("messages", out var m) ? ChatTemplate.MessagesFromJson(m) : [];
        var addGenerationPrompt = @case.TryGetProperty("add_generation_prompt", out var g) && g.GetBoolean();
        var variables = @case.EnumerateObject()
            .Where(p => !NotVariables.Contains(p.Name))
            .ToDictionary(p => p.Name, p => ChatTemplate.FromJson(p.Value));

        string Render() => ChatTemplate.Parse(source).Render(messages, addGenerationPrompt, variables);
        if (@case.TryGetProperty("expected", out var expected))
            Assert.Equal(expected.GetString(), Render());
        else if (@case.TryGetProperty("expected_error", out var error))
            Assert.Equal(error.GetString(), Assert.Throws<ChatTemplateException>(Render).Message);
        else
            Assert.Equal(RenderCase.PythonErrorMessage(@case), Assert.Throws<ChatTemplateException>(Render).Message);
    }

    /// <summary>The message part of a recorded "ErrorType: message".</summary>
    public static string PythonErrorMessage(JsonElement @case)
    {
        var recorded = @case.GetProperty("fails").GetString()!;
        return recorded[(recorded.IndexOf(": ", StringComparison.Ordinal) + 2)..];
    }
}
