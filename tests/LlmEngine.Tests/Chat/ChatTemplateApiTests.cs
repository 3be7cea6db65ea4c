using System.Text.Json;
using LlmEngine.Host.Chat;

namespace LlmEngine.Tests.Chat;

/// <summary>The public facade: parsing, variables, CLR and JSON inputs, raise_exception.</summary>
public class ChatTemplateApiTests
{
    private const string ChatMl =
        "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

    [Fact]
    public void RendersRequestMessagesGivenAsJson()
    {
        using var request = JsonDocument.Parse("""{"messages": [{"role": "user", "content": "Hi"}]}""");
        var messages = ChatTemplate.MessagesFromJson(request.RootElement.GetProperty("messages"));
        Assert.Equal("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", ChatTemplate.Parse(ChatMl).Render(messages, addGenerationPrompt: true));
    }

    [Fact]
    public void JsonNumbersKeepPythonsIntFloatDistinction()
    {
        using var json = JsonDocument.Parse("""{"i": 5, "f": 5.0, "e": 1e3, "big": 12345678901234567890}""");
        Assert.Equal("5 5.0 1000.0 1.2345678901234567e+19", Jinja.Render("{{ v.i }} {{ v.f }} {{ v.e }} {{ v.big }}", ("v", ChatTemplate.FromJson(json.RootElement))));
    }

    [Fact]
    public void JsonObjectsKeepKeyOrder()
    {
        using var json = JsonDocument.Parse("""{"z": 1, "a": {"y": true, "b": null}}""");
        Assert.Equal("{\"z\": 1, \"a\": {\"y\": true, \"b\": null}}", Jinja.Render("{{ v | tojson }}", ("v", ChatTemplate.FromJson(json.RootElement))));
    }

    [Fact]
    public void ClrValuesAreAccepted() =>
        Assert.Equal("3 2.5 True ['x', 1] {'k': 'v'}", Jinja.Render("{{ i }} {{ d }} {{ b }} {{ l }} {{ m }}",
            ("i", 3), ("d", 2.5f), ("b", true), ("l", new object?[] { "x", 1L }), ("m", new Dictionary<string, string> { ["k"] = "v" })));

    [Fact]
    public void JsonElementsCanBePassedDirectly()
    {
        using var json = JsonDocument.Parse("""[{"type": "text", "text": "part"}]""");
        Assert.Equal("part", Jinja.Render("{{ c[0].text }}", ("c", json.RootElement)));
    }

    [Fact]
    public void VariablesReachTheTemplate() =>
        Assert.Equal("<s>x</s>", ChatTemplate.Parse("{{ bos_token }}{{ custom }}{{ eos_token }}").Render([], false,
            new Dictionary<string, object?> { ["bos_token"] = "<s>", ["eos_token"] = "</s>", ["custom"] = "x" }));

    [Fact]
    public void RaiseExceptionMessageIsTheTemplatesText()
    {
        var template = ChatTemplate.Parse("{% if messages[0].role != 'user' %}{{ raise_exception('Conversation must start with user') }}{% endif %}");
        var error = Assert.Throws<ChatTemplateException>(() => template.Render(
            [new Dictionary<string, object?> { ["role"] = "assistant", ["content"] = "x" }], addGenerationPrompt: false));
        Assert.Equal("Conversation must start with user", error.Message);
    }

    [Fact]
    public void AParsedTemplateRendersManyTimes()
    {
        var template = ChatTemplate.Parse("{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}{% endfor %}{{ ns.n }}");
        IReadOnlyDictionary<string, object?> message = new Dictionary<string, object?> { ["role"] = "user" };
        Assert.Equal("2", template.Render([message, message], false));
        Assert.Equal("1", template.Render([message], false));
    }
}
