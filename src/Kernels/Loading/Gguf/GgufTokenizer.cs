using LlmEngine.Kernels.Tokenizers;

namespace LlmEngine.Kernels.Loading.Gguf;

/// <summary>
/// The tokenizer stored in a GGUF file's metadata (<c>tokenizer.ggml.*</c>):
/// <list type="bullet">
/// <item><c>llama</c>: SentencePiece pieces with scores and token types, encoded by score-driven merges
/// with byte fallback as llama.cpp's SPM tokenizer does (<see cref="Llama2cTokenizer"/>);</item>
/// <item><c>gpt2</c>: byte-level BPE with merges, run through the Hugging Face tokenizer pipeline with
/// the pre-tokenizer <c>tokenizer.ggml.pre</c> names (<see cref="GgufBpeSpec"/>).</item>
/// </list>
/// A file without a vocabulary (<c>no_vocab</c> or no keys) has no tokenizer: it is driven by token ids.
/// </summary>
internal static class GgufTokenizer
{
    public static ITokenizer? Load(GgufFile file)
    {
        var m = file.Metadata;
        string? model = m.StringOrNull("tokenizer.ggml.model");
        if (model is null or "none" or "no_vocab") return null;
        var tokens = m.StringArray("tokenizer.ggml.tokens") ?? throw new ModelLoadException($"{file.Path}: tokenizer.ggml.model is '{model}' but there is no tokenizer.ggml.tokens");
        int[] types = m.IntegerArray("tokenizer.ggml.token_type")?.Select(t => (int)t).ToArray() ?? Enumerable.Repeat(1, tokens.Length).ToArray();
        if (types.Length != tokens.Length)
            throw new ModelLoadException($"{file.Path}: {types.Length} token types for {tokens.Length} tokens");
        int? Id(string key) => m.IntegerOrNull(key) is long id && id >= 0 && id < tokens.Length ? (int)id : null;
        int? bos = Id("tokenizer.ggml.bos_token_id"), eos = Id("tokenizer.ggml.eos_token_id");
        try
        {
            switch (model)
            {
                case "llama":
                    var scores = m.FloatArray("tokenizer.ggml.scores") ?? new float[tokens.Length];
                    if (scores.Length != tokens.Length)
                        throw new InvalidDataException($"{scores.Length} scores for {tokens.Length} tokens");
                    return new Llama2cTokenizer(SentencePieceVocabulary.Gguf(tokens, scores, types, bos, eos, Id("tokenizer.ggml.unknown_token_id"),
                        m.BoolOrNull("tokenizer.ggml.add_bos_token") ?? true, m.BoolOrNull("tokenizer.ggml.add_space_prefix") ?? true));
                case "gpt2":
                    var merges = m.StringArray("tokenizer.ggml.merges") ?? throw new InvalidDataException("a gpt2 vocabulary needs tokenizer.ggml.merges");
                    var spec = GgufBpeSpec.Build(tokens, types, merges, m.StringOrNull("tokenizer.ggml.pre"));
                    return HuggingFaceTokenizer.FromSpec(spec, bos is int b ? tokens[b] : null, eos is int e ? tokens[e] : null,
                        m.BoolOrNull("tokenizer.ggml.add_bos_token") ?? false, m.BoolOrNull("tokenizer.ggml.add_eos_token") ?? false);
                default:
                    throw new ModelLoadException($"{file.Path}: tokenizer.ggml.model '{model}' is not supported (supported: llama, gpt2)");
            }
        }
        catch (Exception e) when (e is InvalidDataException or ArgumentException or FormatException)
        {
            throw new ModelLoadException($"{file.Path}: GGUF tokenizer: {e.Message}", e);
        }
    }

    /// <summary>Ids that end generation, as llama.cpp's end-of-generation set: EOS, end-of-turn and
    /// end-of-message where the file names them.</summary>
    public static IReadOnlyList<int> EndOfGenerationIds(GgufFile file)
    {
        int count = file.Metadata.StringArray("tokenizer.ggml.tokens")?.Length ?? int.MaxValue;
        return new[] { "eos", "eot", "eom" }
            .Select(k => file.Metadata.IntegerOrNull($"tokenizer.ggml.{k}_token_id"))
            .Where(id => id is >= 0 && id < count)
            .Select(id => (int)id!.Value)
            .Distinct()
            .ToList();
    }
}
