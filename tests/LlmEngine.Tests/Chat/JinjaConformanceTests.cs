using System.Text.Json;
using LlmEngine.Host.Chat;

namespace LlmEngine.Tests.Chat;

/// <summary>
/// Small templates covering one Jinja feature each, with outputs recorded from Jinja2 itself
/// (Fixtures/generate_conformance.py). Where Jinja failed, the message must match too.
/// </summary>
public class JinjaConformanceTests
{
    private static readonly JsonElement Fixture = TestFiles.ReadJson(TestFiles.ChatFixture("jinja-conformance.json"));

    public static TheoryData<string> Names()
    {
        var data = new TheoryData<string>();
        foreach (var c in Fixture.GetProperty("cases").EnumerateArray()) data.Add(c.GetProperty("name").GetString()!);
        return data;
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void RendersLikeJinja(string name)
    {
        var @case = Fixture.GetProperty("cases").EnumerateArray().Single(c => c.GetProperty("name").GetString() == name);
        var source = @case.GetProperty("template").GetString()!;
        var given = @case.GetProperty("variables");
        var messages = given.TryGetProperty("messages", out var m) ? ChatTemplate.MessagesFromJson(m) : [];
        var variables = given.EnumerateObject()
            .Where(p => p.Name != "messages")
            .ToDictionary(p => p.Name, p => ChatTemplate.FromJson(p.Value));
        string Render() => ChatTemplate.Parse(source).Render(messages, addGenerationPrompt: false, variables);

        if (@case.TryGetProperty("expected", out var expected))
            Assert.Equal(expected.GetString(), Render());
        else if (@case.TryGetProperty("expected_error", out var error))
            Assert.Equal(error.GetString(), Assert.Throws<ChatTemplateException>(Render).Message);
        else
            Assert.Equal(RenderCase.PythonErrorMessage(@case), Assert.Throws<ChatTemplateException>(Render).Message);
    }
}
