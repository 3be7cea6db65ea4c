using System.Text.Json;

namespace LlmEngine.Tests.Chat;

/// <summary>Every template × conversation in shared/reference/chat-templates.json renders byte-identically to Jinja2.</summary>
public class ReferenceTemplateTests
{
    private static readonly JsonElement Reference = TestFiles.ReadJson(TestFiles.Shared("reference/chat-templates.json"));

    public static TheoryData<string, string, bool> Cases() => TemplateCases.Keys(Reference);

    [Theory]
    [MemberData(nameof(Cases))]
    public void RendersLikeJinja(string template, string conversation, bool addGenerationPrompt) =>
        TemplateCases.AssertCase(Reference, template, conversation, addGenerationPrompt);
}
