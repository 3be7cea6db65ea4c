using System.Text.Json;

namespace LlmEngine.Host.Api.Tools;

/// <summary>A tool call as far as the model's text shows it: its name once the name's string is
/// closed, and the raw text of its arguments so far (the model's own JSON, so a stream's argument
/// deltas add up to exactly the arguments a non-streamed response gives).</summary>
internal sealed record ParsedCall(string? Name, string Arguments, bool Complete);

/// <summary>
/// Finds the call objects (<c>{"name": ..., "arguments": {...}}</c>) in a model's text, complete or
/// not: objects at the top level or directly inside a top-level list, so that one scanner reads
/// Hermes' tagged objects, Llama 3's <c>;</c>-separated ones, Mistral's list and the list that
/// <c>tool_choice: "required"</c> constrains. Text between objects (tags, separators) is skipped.
/// </summary>
internal static class CallObjectScanner
{
    /// <summary>The calls in <paramref name="text"/> from <paramref name="start"/>, and whether the
    /// text is nothing but well-formed calls (each complete, valid JSON, with a string name and
    /// arguments under one of <paramref name="argumentKeys"/>).</summary>
    public static (IReadOnlyList<ParsedCall> Calls, bool WellFormed) Scan(string text, int start, params string[] argumentKeys)
    {
        var calls = new List<ParsedCall>();
        var wellFormed = true;
        var containers = new Stack<char>();
        Call? call = null;
        var inString = false;
        var escape = false;
        var stringStart = 0;
        for (var i = start; i < text.Length; i++)
        {
            var ch = text[i];
            if (inString)
            {
                if (escape) escape = false;
                else if (ch == '\\') escape = true;
                else if (ch == '"')
                {
                    inString = false;
                    if (call is not null && containers.Count == call.Depth) call.StringEnded(text, stringStart, i + 1, argumentKeys);
                }
                continue;
            }
            switch (ch)
            {
                case '"' when containers.Count > 0:
                    inString = true;
                    stringStart = i;
                    if (call is not null && containers.Count == call.Depth) call.ValueStarts(i);
                    break;
                case '{' or '[':
                    if (ch == '{' && call is null && (containers.Count == 0 || (containers.Count == 1 && containers.Peek() == '[')))
                        call = new Call(i, containers.Count + 1);
                    else if (call is not null && containers.Count == call.Depth) call.ValueStarts(i);
                    containers.Push(ch);
                    break;
                case '}' or ']' when containers.Count > 0:
                    containers.Pop();
                    if (call is null) break;
                    if (containers.Count == call.Depth) call.NestedEnded(text, i + 1, argumentKeys);
                    else if (containers.Count == call.Depth - 1)
                    {
                        var done = call.Finish(text, i + 1, argumentKeys);
                        wellFormed &= done.Name is not null && call.HasArguments && IsJson(text[call.Start..(i + 1)]);
                        calls.Add(done);
                        call = null;
                    }
                    break;
                case ':' when call is not null && containers.Count == call.Depth:
                    call.AwaitValue();
                    break;
                case ',' when call is not null && containers.Count == call.Depth:
                    call.ScalarEnded(text, i, argumentKeys);
                    break;
                default:
                    if (call is not null && containers.Count == call.Depth && !char.IsWhiteSpace(ch)) call.ValueStarts(i);
                    break;
            }
        }
        if (call is not null)
        {
            calls.Add(call.Partial(text, argumentKeys));
            wellFormed = false;
        }
        return (calls, wellFormed && calls.Count > 0);
    }

    private static bool IsJson(string text)
    {
        try
        {
            using var _ = JsonDocument.Parse(text);
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static string? Decode(string quoted)
    {
        try { return JsonSerializer.Deserialize<string>(quoted); }
        catch (JsonException) { return null; }
    }

    /// <summary>One call object being read: its keys and values at its own depth.</summary>
    private sealed class Call(int start, int depth)
    {
        public int Start { get; } = start;
        public int Depth { get; } = depth;
        public bool HasArguments => _arguments is not null;
        private string? _key, _name, _arguments;
        private bool _awaitingValue;
        private int _valueStart = -1;

        public void AwaitValue() => _awaitingValue = true;

        public void ValueStarts(int i)
        {
            if (!_awaitingValue) return;
            _awaitingValue = false;
            _valueStart = i;
        }

        private bool InArguments(string[] keys) => _valueStart >= 0 && _key is not null && keys.Contains(_key);

        /// <summary>A string at the call's level closed: a key, or the value just started.</summary>
        public void StringEnded(string text, int from, int to, string[] keys)
        {
            if (_valueStart != from)
            {
                _key = Decode(text[from..to]);
                return;
            }
            if (_key == "name") _name = Decode(text[from..to]);
            // Some models write the arguments as a JSON string holding the object.
            else if (InArguments(keys)) _arguments = Decode(text[from..to]);
            _valueStart = -1;
        }

        /// <summary>An object or list value closed at <paramref name="end"/>.</summary>
        public void NestedEnded(string text, int end, string[] keys)
        {
            if (InArguments(keys)) _arguments = text[_valueStart..end];
            _valueStart = -1;
        }

        /// <summary>A number, boolean or null value ends before <paramref name="end"/>.</summary>
        public void ScalarEnded(string text, int end, string[] keys)
        {
            if (InArguments(keys)) _arguments = text[_valueStart..end].Trim();
            _valueStart = -1;
        }

        public ParsedCall Finish(string text, int end, string[] keys)
        {
            ScalarEnded(text, end - 1, keys);
            return new ParsedCall(_name, _arguments ?? "", true);
        }

        /// <summary>Object or list arguments are given as they grow; others once complete.</summary>
        public ParsedCall Partial(string text, string[] keys) =>
            new(_name, _arguments ?? (InArguments(keys) && text[_valueStart] is '{' or '[' ? text[_valueStart..] : ""), false);
    }
}
