using System.Text.Json;

namespace LlmEngine.Tests.Chat;

/// <summary>Every template × conversation in shared/reference/chat-templates.json renders byte-identically to Jinja2.</summary>
public class ReferenceTemplateTests
{
    private static readonly JsonElement Reference = TestFiles.ReadJson(TestFiles.Shared("reference/chat-templates.json"));

    public static TheoryData<string, string, bool> Cases()
    {
        var data = new TheoryData<string, string, bool>();
        foreach (var c in Reference.GetProperty("cases").EnumerateArray())
            data.Add(c.GetProperty("template").GetString()!, c.GetProperty("conversation").GetString()!, c.GetProperty("add_generation_prompt").GetBoolean());
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void RendersLikeJinja(string template, string conversation, bool addGenerationPrompt)
    {
        var @case = Reference.GetProperty("cases").EnumerateArray().Single(c =>
            c.GetProperty("template").GetString() == template
            && c.GetProperty("conversation").GetString() == conversation
            && c.GetProperty("add_generation_prompt").GetBoolean() == addGenerationPrompt);
        RenderCase.AssertRenders(Reference.GetProperty("templates").GetProperty(template).GetString()!, @case);
    }
}
