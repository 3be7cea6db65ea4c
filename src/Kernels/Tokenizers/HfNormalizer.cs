using System.Text;
using System.Text.Json;
using LlmEngine.Kernels.Tokenizers.Unicode;

namespace LlmEngine.Kernels.Tokenizers;

/// <summary>tokenizer.json's <c>normalizer</c> as a text-to-text function. Written here because
/// Microsoft.ML.Tokenizers has no Prepend/Replace normalizers, and it must also run on each
/// piece between added tokens and on added tokens marked <c>normalized</c>, as Hugging Face does.
/// Covers Sequence, Prepend and Replace (LLaMA-1/2, Mistral) and the Unicode forms NFC, NFD, NFKC,
/// NFKD (Qwen: NFC) through <see cref="UnicodeNormalizer"/>, since under the engine's invariant
/// globalization string.Normalize leaves non-ASCII text as it is.</summary>
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
            case "NFC": return text => UnicodeNormalizer.Normalize(text, NormalizationForm.FormC);
            case "NFD": return text => UnicodeNormalizer.Normalize(text, NormalizationForm.FormD);
            case "NFKC": return text => UnicodeNormalizer.Normalize(text, NormalizationForm.FormKC);
            case "NFKD": return text => UnicodeNormalizer.Normalize(text, NormalizationForm.FormKD);
            default: throw JsonSpec.Unsupported("normalizer", s);
        }
    }
}
