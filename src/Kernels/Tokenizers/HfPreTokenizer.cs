using System.Text.Json;
using System.Text.RegularExpressions;

namespace LlmEngine.Kernels.Tokenizers;

/// <summary>One pre-tokenizer step: a split into smaller splits. <paramref name="atStart"/> says
/// whether it begins the original text (Metaspace's "first" prepend scheme needs it).</summary>
internal delegate IEnumerable<string> PreTokenizeStep(string split, bool atStart);

/// <summary>tokenizer.json's <c>pre_tokenizer</c>: ByteLevel (GPT-2, OPT; after a Split for
/// LLaMA-3), Metaspace (LLaMA-2 without the legacy normalizer), Split, Digits, Sequence.
/// Written here because Microsoft.ML.Tokenizers' pre-tokenizers return only regex matches, with
/// none of Hugging Face's split behaviours, byte-level mapping or Metaspace.</summary>
internal static partial class HfPreTokenizer
{
    // The GPT-2 split that ByteLevel applies when use_regex is on.
    [GeneratedRegex(@"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+", RegexOptions.CultureInvariant)]
    private static partial Regex Gpt2Split();

    [GeneratedRegex(@"\p{N}", RegexOptions.CultureInvariant)]
    private static partial Regex Digit();

    private static readonly string[] Behaviors = ["Isolated", "Removed", "MergedWithPrevious", "MergedWithNext", "Contiguous"];

    public static PreTokenizeStep[] Parse(JsonElement? spec)
    {
        if (spec is not { } s)
            return [];
        switch (s.Type())
        {
            case "Sequence":
                return s.Req("pretokenizers").EnumerateArray().SelectMany(p => Parse(p)).ToArray();
            case "ByteLevel":
                return [ByteLevel(s.Bool("add_prefix_space", true), s.Bool("use_regex", true))];
            case "Metaspace":
                return [Metaspace(s)];
            case "Split":
                var pattern = s.Pattern("pattern");
                string behavior = s.Str("behavior");
                if (!Behaviors.Contains(behavior))
                    throw new InvalidDataException($"split behavior '{behavior}' is not supported");
                bool invert = s.Bool("invert", false);
                return [(split, _) => Split(pattern, split, behavior, invert)];
            case "Digits":
                string digits = s.Bool("individual_digits", false) ? "Isolated" : "Contiguous";
                return [(split, _) => Split(Digit(), split, digits, invert: false)];
            default:
                throw JsonSpec.Unsupported("pre_tokenizer", s);
        }
    }

    /// <summary>Runs the steps in order over every split, dropping empty ones; only the first
    /// split of a piece that began the text still begins it.</summary>
    public static List<string> Run(IReadOnlyList<PreTokenizeStep> steps, string text, bool atStart)
    {
        var splits = new List<string> { text };
        foreach (PreTokenizeStep step in steps)
        {
            var next = new List<string>(splits.Count);
            for (int i = 0; i < splits.Count; i++)
                next.AddRange(step(splits[i], atStart && i == 0).Where(x => x.Length > 0));
            splits = next;
        }
        return splits;
    }

    private static PreTokenizeStep ByteLevel(bool addPrefixSpace, bool useRegex) => (split, _) =>
    {
        if (addPrefixSpace && !split.StartsWith(' '))
            split = " " + split;
        IEnumerable<string> parts = useRegex ? Split(Gpt2Split(), split, "Isolated", invert: false) : [split];
        return parts.Select(ByteLevelAlphabet.Encode);
    };

    private static PreTokenizeStep Metaspace(JsonElement s)
    {
        char mark = s.Str("replacement")[0];
        // Files written before prepend_scheme existed say add_prefix_space instead.
        string scheme = s.Opt("prepend_scheme")?.GetString() ?? (s.Bool("add_prefix_space", true) ? "always" : "never");
        bool split = s.Bool("split", true);
        var markPattern = new Regex(Regex.Escape(mark.ToString()));
        return (text, atStart) =>
        {
            text = text.Replace(' ', mark);
            bool prepend = scheme == "always" || (scheme == "first" && atStart);
            if (prepend && !text.StartsWith(mark))
                text = mark + text;
            return split ? Split(markPattern, text, "MergedWithNext", invert: false) : [text];
        };
    }

    /// <summary>Hugging Face's split: the text cut into alternating gaps and matches, then
    /// matches kept alone (Isolated), dropped (Removed), glued to the piece before or after
    /// (MergedWithPrevious/Next) or runs of matches joined (Contiguous).</summary>
    private static IEnumerable<string> Split(Regex pattern, string text, string behavior, bool invert)
    {
        var parts = new List<(int Start, int End, bool Match)>();
        int previous = 0;
        foreach (Match m in pattern.Matches(text))
        {
            if (previous != m.Index)
                parts.Add((previous, m.Index, invert));
            parts.Add((m.Index, m.Index + m.Length, !invert));
            previous = m.Index + m.Length;
        }
        if (previous != text.Length)
            parts.Add((previous, text.Length, invert));

        var pieces = new List<(int Start, int End)>(parts.Count);
        bool lastMatch = false;
        switch (behavior)
        {
            case "Isolated":
                pieces.AddRange(parts.Select(p => (p.Start, p.End)));
                break;
            case "Removed":
                pieces.AddRange(parts.Where(p => !p.Match).Select(p => (p.Start, p.End)));
                break;
            case "MergedWithPrevious":
                foreach (var p in parts)
                {
                    if (p.Match && !lastMatch && pieces.Count > 0)
                        pieces[^1] = (pieces[^1].Start, p.End);
                    else
                        pieces.Add((p.Start, p.End));
                    lastMatch = p.Match;
                }
                break;
            case "MergedWithNext":
                foreach (var p in Enumerable.Reverse(parts))
                {
                    if (p.Match && !lastMatch && pieces.Count > 0)
                        pieces[^1] = (p.Start, pieces[^1].End);
                    else
                        pieces.Add((p.Start, p.End));
                    lastMatch = p.Match;
                }
                pieces.Reverse();
                break;
            case "Contiguous":
                foreach (var p in parts)
                {
                    if (p.Match == lastMatch && pieces.Count > 0)
                        pieces[^1] = (pieces[^1].Start, p.End);
                    else
                        pieces.Add((p.Start, p.End));
                    lastMatch = p.Match;
                }
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(behavior), behavior, "checked when parsing");
        }
        return pieces.Select(p => text[p.Start..p.End]);
    }
}
