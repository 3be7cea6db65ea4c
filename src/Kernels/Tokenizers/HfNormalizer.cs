using System.Text.Json;

namespace LlmEngine.Kernels.Tokenizers;

/// <summary>tokenizer.json's <c>normalizer</c> as a text-to-text function. Written here because
/// Microsoft.ML.Tokenizers has no Prepend/Replace normalizers, and it must also run on each
/// piece between added tokens and on added tokens marked <c>normalized</c>, as Hugging Face does.
/// Covers Sequence, Prepend and Replace (LLaMA-1/2, Mistral). The Unicode forms (NFC, used by
/// Qwen) are refused: the engine runs with invariant globalization, where string.Normalize
/// leaves non-ASCII text as it is, so ids would silently differ for decomposed input.</summary>
internal static class HfNormalizer
{
    public static Func<string, string>? Parse(JsonElement? spec)
    {
        if (spec is not { } s)
            return null;
        switch (s.Type())
        {
            case "Sequence":
                Func<string, string>[] steps = s.Req("normalizers").EnumerateArray()
                    .Select(n => Parse(n)).OfType<Func<string, string>>().ToArray();
                return text => steps.Aggregate(text, (t, step) => step(t));
            case "Prepend":
                string prefix = s.Str("prepend");
                return text => text.Length == 0 ? text : prefix + text; // HF leaves empty text empty
            case "Replace":
                var pattern = s.Pattern("pattern");
                string content = s.Str("content");
                return text => pattern.Replace(text, _ => content); // evaluator: no $-substitutions
            default: throw JsonSpec.Unsupported("normalizer", s);
        }
    }
}
