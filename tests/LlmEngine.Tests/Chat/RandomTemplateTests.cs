using System.Text.Json;
using LlmEngine.Host.Chat;

namespace LlmEngine.Tests.Chat;

/// <summary>
/// Seeded random templates (Fixtures/generate_random.py) rendered by Jinja2: whitespace-control
/// mixes, expressions over every value type, and nested loops/macros/namespaces. Each fact
/// checks one family and lists the first templates that differ.
/// </summary>
public class RandomTemplateTests
{
    private static readonly JsonElement Fixture = TestFiles.ReadJson(TestFiles.ChatFixture("jinja-random.json"));

    [Theory]
    [InlineData("whitespace")]
    [InlineData("expression")]
    [InlineData("statements")]
    public void RenderLikeJinja(string family)
    {
        var cases = Fixture.GetProperty("cases").EnumerateArray()
            .Where(c => c.GetProperty("name").GetString()!.StartsWith(family + "/", StringComparison.Ordinal))
            .ToList();
        var mismatches = cases.Select(Mismatch).Where(m => m is not null).Take(5).ToList();
        Assert.True(cases.Count > 50, $"only {cases.Count} {family} cases");
        Assert.True(mismatches.Count == 0, string.Join("\n\n", mismatches));
    }

    /// <summary>Null when the engine agrees with Jinja; where Jinja failed, any failure agrees.</summary>
    private static string? Mismatch(JsonElement @case)
    {
        var source = @case.GetProperty("template").GetString()!;
        var given = @case.GetProperty("variables");
        var messages = given.TryGetProperty("messages", out var m) ? ChatTemplate.MessagesFromJson(m) : [];
        var variables = given.EnumerateObject().Where(p => p.Name != "messages")
            .ToDictionary(p => p.Name, p => ChatTemplate.FromJson(p.Value));
        string outcome;
        try
        {
            outcome = "renders " + JsonSerializer.Serialize(ChatTemplate.Parse(source).Render(messages, false, variables));
        }
        catch (ChatTemplateException e)
        {
            outcome = "fails: " + e.Message;
        }
        var expected = @case.TryGetProperty("expected", out var text) ? "renders " + JsonSerializer.Serialize(text.GetString())
            : @case.TryGetProperty("expected_error", out var error) ? "fails: " + error.GetString()
            : null;
        var agrees = expected is null ? outcome.StartsWith("fails: ", StringComparison.Ordinal) : outcome == expected;
        return agrees ? null : $"{source}\n  jinja: {expected ?? "fails"}\n  ours:  {outcome}";
    }
}
