using System.Text.Json;

namespace LlmEngine.Kernels.Tokenizers;

/// <summary>The ids a tokenizer adds around one encoded text when special tokens are asked for:
/// tokenizer.json's <c>post_processor</c> reduced to the single-sequence case.</summary>
internal sealed record SpecialTokenTemplate(int[] Prefix, int[] Suffix)
{
    public static readonly SpecialTokenTemplate None = new([], []);

    /// <summary>TemplateProcessing (LLaMA: <c>&lt;s&gt; $A</c>), Roberta/BertProcessing
    /// (cls $A sep), ByteLevel (GPT-2: adds nothing) and Sequence of those.</summary>
    public static SpecialTokenTemplate Parse(JsonElement? spec)
    {
        if (spec is not { } s)
            return None;
        switch (s.Type())
        {
            case "ByteLevel":
                return None;
            case "TemplateProcessing":
                return Template(s);
            case "RobertaProcessing" or "BertProcessing":
                return new([s.Req("cls")[1].GetInt32()], [s.Req("sep")[1].GetInt32()]);
            case "Sequence":
                // Each processor wraps the output of the one before it.
                return s.Req("processors").EnumerateArray().Select(p => Parse(p)).Aggregate(None,
                    (inner, outer) => new([.. outer.Prefix, .. inner.Prefix], [.. inner.Suffix, .. outer.Suffix]));
            default:
                throw JsonSpec.Unsupported("post_processor", s);
        }
    }

    private static SpecialTokenTemplate Template(JsonElement s)
    {
        JsonElement specials = s.Req("special_tokens");
        var prefix = new List<int>();
        var suffix = new List<int>();
        bool seenSequence = false;
        foreach (JsonElement piece in s.Req("single").EnumerateArray())
        {
            if (piece.Opt("Sequence") is not null)
            {
                seenSequence = true;
                continue;
            }
            string name = piece.Req("SpecialToken").Str("id");
            int[] ids = specials.Req(name).Req("ids").EnumerateArray().Select(i => i.GetInt32()).ToArray();
            (seenSequence ? suffix : prefix).AddRange(ids);
        }
        return new(prefix.ToArray(), suffix.ToArray());
    }
}
