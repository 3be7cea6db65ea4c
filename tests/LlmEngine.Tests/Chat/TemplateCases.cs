using System.Text.Json;

namespace LlmEngine.Tests.Chat;

/// <summary>Files laid out like chat-templates.json: named templates, and cases naming one.</summary>
internal static class TemplateCases
{
    public static TheoryData<string, string, bool> Keys(JsonElement file)
    {
        var data = new TheoryData<string, string, bool>();
        foreach (var c in file.GetProperty("cases").EnumerateArray())
            data.Add(c.GetProperty("template").GetString()!, c.GetProperty("conversation").GetString()!, c.GetProperty("add_generation_prompt").GetBoolean());
        return data;
    }

    public static void AssertCase(JsonElement file, string template, string conversation, bool addGenerationPrompt)
    {
        var @case = file.GetProperty("cases").EnumerateArray().Single(c =>
            c.GetProperty("template").GetString() == template
            && c.GetProperty("conversation").GetString() == conversation
            && c.GetProperty("add_generation_prompt").GetBoolean() == addGenerationPrompt);
        RenderCase.AssertRenders(file.GetProperty("templates").GetProperty(template).GetString()!, @case);
    }
}
