using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Json.Schema;
using LlmEngine.Tests.Structured;

namespace LlmEngine.Tests.EndToEnd;

/// <summary>
/// Structured outputs on stories260K, a model that knows nothing of JSON, sampled at temperature
/// 1.0: whatever it would write, the constraint makes every answer valid. Requests of one kind run
/// together, so batches mix constraints. Chat requests leave max_tokens to the context (512).
/// </summary>
[Trait("Category", "Slow")]
public sealed class StructuredOutputsEndToEndTests(Stories260KLargeCacheServer server) : IClassFixture<Stories260KLargeCacheServer>
{
    private const string Prompt = "Once upon a time, there was a";

    [Fact]
    public async Task TwoHundredSampledAnswersOverTwentySchemasAllValidate()
    {
        using var chat = new HttpClient { BaseAddress = server.ChatAddress, Timeout = TimeSpan.FromMinutes(5) };
        var requests = TestSchemas.All.SelectMany((schema, s) => Enumerable.Range(0, 10).Select(async i =>
        {
            var body = new
            {
                model = server.Model,
                messages = new[] { new { role = "user", content = "Tell me a story." } },
                temperature = 1.0,
                seed = s * 10 + i,
                response_format = new { type = "json_schema", json_schema = new { name = $"schema{s}", strict = true, schema = JsonDocument.Parse(schema).RootElement } },
            };
            var reply = await Stories260KServer.Json(await chat.PostAsJsonAsync("/v1/chat/completions", body));
            var choice = reply.GetProperty("choices")[0];
            return (Schema: schema, Text: choice.GetProperty("message").GetProperty("content").GetString()!, Finish: choice.GetProperty("finish_reason").GetString());
        })).ToList();
        foreach (var (schema, text, finish) in await Task.WhenAll(requests))
        {
            Assert.True(finish == "stop", $"finish {finish}: {text}");
            using var doc = JsonDocument.Parse(text);
            Assert.True(JsonSchema.FromText(schema).Evaluate(doc.RootElement).IsValid, $"{text} against {schema}");
        }
        Assert.Equal((await server.WhenAllBlocksFree()).BlocksTotal, (await server.WhenAllBlocksFree()).BlocksFree);
    }

    public static TheoryData<string, object, string> Constraints => new()
    {
        { "regex", new { structured_outputs = new { regex = @"[A-Z][a-z]{2,8} (is|was) [0-9]{1,3}( years old)?\." } }, @"^[A-Z][a-z]{2,8} (is|was) [0-9]{1,3}( years old)?\.$" },
        { "choice", new { guided_choice = new[] { "happy", "sad", "a little bit scared" } }, "^(happy|sad|a little bit scared)$" },
        { "grammar", new { guided_grammar = "root ::= greeting \", \" name \"!\"\ngreeting ::= \"Hello\" | \"Hi\"\nname ::= [A-Z] [a-z]{1,10}" }, "^(Hello|Hi), [A-Z][a-z]{1,10}!$" },
    };

    [Theory]
    [MemberData(nameof(Constraints))]
    public async Task SampledAnswersSatisfyRegexChoiceAndGrammar(string kind, object constraint, string pattern)
    {
        var fields = JsonSerializer.SerializeToElement(constraint);
        var answers = await Task.WhenAll(Enumerable.Range(0, 20).Select(async i =>
        {
            var body = new Dictionary<string, object> { ["model"] = server.Model, ["prompt"] = Prompt, ["temperature"] = 1.0, ["seed"] = i, ["max_tokens"] = 400 };
            foreach (var p in fields.EnumerateObject()) body[p.Name] = p.Value;
            var choice = (await Stories260KServer.Json(await server.Http.PostAsJsonAsync("/v1/completions", body))).GetProperty("choices")[0];
            return (Text: choice.GetProperty("text").GetString()!, Finish: choice.GetProperty("finish_reason").GetString());
        }));
        foreach (var (text, finish) in answers)
        {
            Assert.True(finish == "stop", $"{kind}: finish {finish}: {text}");
            Assert.Matches(new Regex(pattern), text);
        }
    }

    /// <summary>Greedy decoding under a constraint that the unconstrained greedy text already
    /// satisfies changes nothing: the mask only removes tokens greedy would not have chosen.</summary>
    [Fact]
    public async Task GreedyUnderASatisfiedConstraintEqualsUnconstrainedGreedy()
    {
        async Task<string> Greedy(Dictionary<string, object> extra)
        {
            var body = new Dictionary<string, object> { ["model"] = server.Model, ["prompt"] = Prompt, ["temperature"] = 0, ["max_tokens"] = 40 };
            foreach (var (k, v) in extra) body[k] = v;
            return (await Stories260KServer.Json(await server.Http.PostAsJsonAsync("/v1/completions", body))).GetProperty("choices")[0].GetProperty("text").GetString()!;
        }
        var free = await Greedy([]);
        var characters = string.Concat(free.Distinct().Select(c => char.IsAsciiLetterOrDigit(c) ? c.ToString() : $"\\u{(int)c:X4}"));
        var constraints = new Dictionary<string, object>[]
        {
            new() { ["structured_outputs"] = new { regex = $"[{characters}]*" } },
            new() { ["guided_regex"] = RegexLiteral(free) + "|[0-9]+" },
            new() { ["guided_choice"] = new[] { "The end.", free, free + " and more" } },
            new() { ["guided_grammar"] = $"root ::= text | \"{{}}\"\ntext ::= [{characters}]+" },
        };
        foreach (var constraint in constraints) Assert.Equal(free, await Greedy(constraint));
    }

    private static string RegexLiteral(string text) => string.Concat(text.Select(c => char.IsAsciiLetterOrDigit(c) ? c.ToString() : $"\\u{(int)c:X4}"));
}
