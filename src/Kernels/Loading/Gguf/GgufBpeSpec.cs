using System.Text.Json.Nodes;

namespace LlmEngine.Kernels.Loading.Gguf;

/// <summary>A GGUF <c>gpt2</c> vocabulary written as the tokenizer.json Hugging Face would load for the
/// same model: byte-level BPE with the merges, control and user-defined tokens as added tokens, and the
/// pre-tokenizer split that llama.cpp uses for <c>tokenizer.ggml.pre</c>.</summary>
internal static class GgufBpeSpec
{
    private const string Gpt2 = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";
    private const string Llama3 = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    private const string Qwen2 = @"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    /// <summary>Regexes applied in turn (each splits the pieces of the one before), and whether merges
    /// are skipped for a word that is itself a token (Llama 3's ignore_merges).</summary>
    private static (string[] Splits, bool IgnoreMerges) PreTokenizer(string? pre) => pre switch
    {
        null or "default" or "gpt2" or "gpt-2" => ([Gpt2], false),
        "llama-bpe" or "llama3" or "llama-v3" => ([Llama3], true),
        "qwen2" => ([Qwen2], false),
        // Digits one by one, then GPT-2's split, as llama.cpp does for these.
        "smollm" or "starcoder" or "refact" => ([@"\p{N}", Gpt2], false),
        _ => throw new InvalidDataException($"pre-tokenizer '{pre}' is not supported (supported: gpt2, llama-bpe, qwen2, smollm, starcoder, refact)"),
    };

    public static JsonObject Build(string[] tokens, int[] types, string[] merges, string? pre)
    {
        var (splits, ignoreMerges) = PreTokenizer(pre);
        var vocab = new JsonObject();
        for (int i = 0; i < tokens.Length; i++) vocab[tokens[i]] = i;
        var pretokenizers = new JsonArray();
        foreach (string pattern in splits)
            pretokenizers.Add(new JsonObject
            {
                ["type"] = "Split",
                ["pattern"] = new JsonObject { ["Regex"] = pattern },
                ["behavior"] = "Isolated",
                ["invert"] = false,
            });
        pretokenizers.Add(new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["use_regex"] = false });
        // llama.cpp's token types: 3 control (special), 4 user-defined (matched in text, decoded as text).
        var added = new JsonArray();
        for (int i = 0; i < tokens.Length; i++)
            if (types[i] is 3 or 4)
                added.Add(new JsonObject
                {
                    ["id"] = i,
                    ["content"] = tokens[i],
                    ["special"] = types[i] == 3,
                    ["normalized"] = false,
                });
        return new JsonObject
        {
            ["added_tokens"] = added,
            ["pre_tokenizer"] = new JsonObject { ["type"] = "Sequence", ["pretokenizers"] = pretokenizers },
            ["decoder"] = new JsonObject { ["type"] = "ByteLevel" },
            ["model"] = new JsonObject
            {
                ["type"] = "BPE",
                ["vocab"] = vocab,
                ["merges"] = new JsonArray(merges.Select(m => (JsonNode?)JsonValue.Create(m)).ToArray()),
                ["ignore_merges"] = ignoreMerges,
            },
        };
    }
}
