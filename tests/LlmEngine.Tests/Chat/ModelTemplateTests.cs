using System.Text.Json;

namespace LlmEngine.Tests.Chat;

/// <summary>
/// Real chat templates of Llama 2/3/3.1, Mistral, Qwen 2.5, Zephyr, Gemma 1/3, Phi-3, DeepSeek-R1
/// and Hermes (Fixtures/model_templates, from memory of their tokenizer configs) against the
/// outputs Jinja2 gave for each conversation (Fixtures/generate_model_templates.py).
/// </summary>
public class ModelTemplateTests
{
    private static readonly JsonElement Fixture = TestFiles.ReadJson(TestFiles.ChatFixture("model-templates.json"));

    public static TheoryData<string, string, bool> Cases() => TemplateCases.Keys(Fixture);

    [Theory]
    [MemberData(nameof(Cases))]
    public void RendersLikeJinja(string template, string conversation, bool addGenerationPrompt) =>
        TemplateCases.AssertCase(Fixture, template, conversation, addGenerationPrompt);
}
