using System.Text.Json;
using System.Text.Json.Nodes;
using LlmEngine.Host.Api;
using LlmEngine.Host.Api.Tools;

namespace LlmEngine.Tests.Server.Tools;

/// <summary>
/// The --tool-call-parser readers on outputs recorded from the models that write each format
/// (Qwen2.5-Instruct for hermes, Llama-3.1-Instruct for llama3_json, Mistral-7B-Instruct-v0.3
/// for mistral), whole and streamed: every way of cutting the text into deltas gives the same
/// content and calls as the whole text, names before arguments.
/// </summary>
public sealed class ToolCallParserTests
{
    public sealed record Expected(string? Content, params (string Name, string Arguments)[] Calls);

    private const string Weather = """{"location": "San Francisco, CA", "unit": "fahrenheit"}""";
    private const string Dallas = """{"city": "Dallas", "state": "TX", "unit": "fahrenheit"}""";
    private const string Orlando = """{"city": "Orlando", "state": "FL", "unit": "fahrenheit"}""";

    public static TheoryData<string, string, Expected> Recorded => new()
    {
        { "hermes", "<tool_call>\n{\"name\": \"get_current_weather\", \"arguments\": " + Weather + "}\n</tool_call>", new(null, ("get_current_weather", Weather)) },
        { "hermes", "I'll check both cities.\n<tool_call>\n{\"name\": \"get_current_weather\", \"arguments\": " + Dallas + "}\n</tool_call>\n<tool_call>\n{\"name\": \"get_current_weather\", \"arguments\": " + Orlando + "}\n</tool_call>",
            new("I'll check both cities.\n", ("get_current_weather", Dallas), ("get_current_weather", Orlando)) },
        { "hermes", "<tool_call>\n{\"name\": \"get_time\", \"arguments\": {}}\n</tool_call>", new(null, ("get_time", "{}")) },
        { "hermes", "The weather in Paris is sunny, 22 °C <with> {braces} and \"quotes\".", new("The weather in Paris is sunny, 22 °C <with> {braces} and \"quotes\".") },
        // A call cut short (max_tokens) is not a call: the whole output is content, as in vLLM.
        { "hermes", "<tool_call>\n{\"name\": \"get_current_weather\", \"arguments\": {\"location\": \"San Fra", new("<tool_call>\n{\"name\": \"get_current_weather\", \"arguments\": {\"location\": \"San Fra") },
        { "llama3_json", "{\"name\": \"get_current_weather\", \"parameters\": " + Dallas + "}", new(null, ("get_current_weather", Dallas)) },
        { "llama3_json", "<|python_tag|>{\"name\": \"get_current_weather\", \"parameters\": " + Dallas + "}; {\"name\": \"get_current_weather\", \"parameters\": " + Orlando + "}",
            new(null, ("get_current_weather", Dallas), ("get_current_weather", Orlando)) },
        { "llama3_json", "{\"name\": \"search\", \"arguments\": {\"query\": \"a \\\"quoted\\\" {brace} \\\\ path\", \"limit\": [1, {\"k\": 2}]}}",
            new(null, ("search", "{\"query\": \"a \\\"quoted\\\" {brace} \\\\ path\", \"limit\": [1, {\"k\": 2}]}")) },
        { "llama3_json", "The answer is {\"name\": \"x\"}.", new("The answer is {\"name\": \"x\"}.") },
        { "llama3_json", "{not json at all}", new("{not json at all}") },
        { "mistral", "[TOOL_CALLS] [{\"name\": \"get_current_weather\", \"arguments\": " + Weather + "}]", new(null, ("get_current_weather", Weather)) },
        { "mistral", "Sure.[TOOL_CALLS] [{\"name\": \"get_current_weather\", \"arguments\": " + Dallas + "}, {\"name\": \"get_current_weather\", \"arguments\": " + Orlando + "}]",
            new("Sure.", ("get_current_weather", Dallas), ("get_current_weather", Orlando)) },
        // Arguments written as a JSON string holding the object.
        { "mistral", "[TOOL_CALLS] [{\"name\": \"get_time\", \"arguments\": \"{\\\"tz\\\": \\\"UTC\\\"}\"}]", new(null, ("get_time", "{\"tz\": \"UTC\"}")) },
        { "mistral", "No tool is needed [for this].", new("No tool is needed [for this].") },
    };

    [Theory]
    [MemberData(nameof(Recorded))]
    public void AWholeOutputGivesItsContentAndCalls(string parser, string output, Expected expected)
    {
        var (content, calls) = ToolCallStream.Message(ToolCallParsers.Named(parser), output);
        Assert.Equal(expected.Content, content);
        Assert.Equal(expected.Calls.Select(c => c.Name), calls?.Select(c => c.Function.Name!) ?? []);
        Assert.Equal(expected.Calls.Select(c => c.Arguments), calls?.Select(c => c.Function.Arguments) ?? []);
        foreach (var call in calls ?? [])
        {
            Assert.StartsWith("chatcmpl-tool-", call.Id);
            Assert.IsType<JsonObject>(JsonNode.Parse(call.Function.Arguments));
        }
        Assert.Equal(calls?.Count ?? 0, calls?.Select(c => c.Id).Distinct().Count() ?? 0);
    }

    [Theory]
    [MemberData(nameof(Recorded))]
    public void AStreamedOutputGivesTheSameContentAndCallsHowEverItIsCut(string parser, string output, Expected expected)
    {
        foreach (var size in new[] { 1, 2, 3, 5, 8, 13, output.Length })
        {
            var stream = new ToolCallStream(ToolCallParsers.Named(parser));
            var deltas = new List<ChatDelta>();
            for (var end = Math.Min(size, output.Length); ; end = Math.Min(end + size, output.Length))
            {
                deltas.AddRange(stream.Next(output[..end], final: end == output.Length));
                if (end == output.Length) break;
            }
            var streamed = Streamed.Read(deltas);
            // A malformed call already streamed cannot be taken back; the rest arrives as content.
            if (expected.Calls.Length == 0 && streamed.Calls.Count > 0) continue;
            Assert.Equal(expected.Content ?? "", streamed.Content);
            Assert.Equal(expected.Calls.Select(c => (c.Name, c.Arguments)), streamed.Calls);
        }
    }

    [Fact]
    public void ContentThatMayBeTheStartOfAMarkerIsHeldBackUntilItIsNot()
    {
        var stream = new ToolCallStream(ToolCallParsers.Named("hermes"));
        Assert.Equal("Hi ", Assert.Single(stream.Next("Hi <tool", final: false)).Content);
        Assert.Empty(stream.Next("Hi <tool_c", final: false));
        Assert.Equal("<tool_cat>", Assert.Single(stream.Next("Hi <tool_cat>", final: false)).Content);
        var llama = new ToolCallStream(ToolCallParsers.Named("llama3_json"));
        Assert.Empty(llama.Next("<|python", final: false));
        Assert.Equal("<|pythonic", Assert.Single(llama.Next("<|pythonic", final: false)).Content);
    }

    [Fact]
    public void UnknownParserNamesTheKnownOnes()
    {
        var e = Assert.Throws<ArgumentException>(() => ToolCallParsers.Named("pythonic"));
        Assert.Equal("Unknown --tool-call-parser 'pythonic'; choose one of: hermes, mistral, llama3_json.", e.Message);
    }

    /// <summary>What a client assembles from streamed deltas, checking OpenAI's order: a call's
    /// first delta has its id, type and name with empty arguments, later ones arguments only.</summary>
    internal sealed record Streamed(string Content, List<(string Name, string Arguments)> Calls)
    {
        public static Streamed Read(IEnumerable<ChatDelta> deltas)
        {
            var content = "";
            var calls = new List<(string Name, string Arguments)>();
            foreach (var d in deltas)
            {
                content += d.Content ?? "";
                foreach (var t in d.ToolCalls ?? [])
                {
                    if (t.Index == calls.Count)
                    {
                        Assert.StartsWith("chatcmpl-tool-", t.Id);
                        Assert.Equal("function", t.Type);
                        Assert.Equal("", t.Function.Arguments);
                        calls.Add((t.Function.Name!, ""));
                        continue;
                    }
                    Assert.Null(t.Id);
                    Assert.Null(t.Function.Name);
                    calls[t.Index] = (calls[t.Index].Name, calls[t.Index].Arguments + t.Function.Arguments);
                }
            }
            return new Streamed(content, calls);
        }
    }
}
