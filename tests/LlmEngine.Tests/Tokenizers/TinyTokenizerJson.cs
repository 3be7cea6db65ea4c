using System.Text.Json;
using System.Text.Json.Nodes;

namespace LlmEngine.Tests.Tokenizers;

/// <summary>Hand-built tokenizer.json files in the two BPE styles real checkpoints use, small
/// enough to work out their encodings by hand. Written as the files of GPT-2 and LLaMA-2 are.</summary>
internal static class TinyTokenizerJson
{
    /// <summary>GPT-2 style. Ids 0..255: the byte alphabet in byte order (so 'h' is 104 and
    /// the space byte 'Ġ' is 32). Merges, by rank:
    /// 256 Ġt, 257 he, 258 Ġthe, 259 ll, 260 hell, 261 hello, 262 Ã© (é's bytes), 263 ca.
    /// Added: 264 &lt;|endoftext|&gt; (special).</summary>
    public static string ByteLevel()
    {
        var vocab = new JsonObject();
        for (int b = 0; b < 256; b++)
            vocab[ByteChar(b).ToString()] = b;
        string[] merges = ["Ġ t", "h e", "Ġt he", "l l", "he ll", "hell o", "Ã ©", "c a"];
        for (int i = 0; i < merges.Length; i++)
            vocab[merges[i].Replace(" ", "")] = 256 + i;
        var byteLevel = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = true };
        return new JsonObject
        {
            ["version"] = "1.0",
            ["added_tokens"] = new JsonArray(Added(264, "<|endoftext|>", normalized: true)),
            ["normalizer"] = null,
            ["pre_tokenizer"] = byteLevel.DeepClone(),
            ["post_processor"] = byteLevel.DeepClone(),
            ["decoder"] = byteLevel.DeepClone(),
            ["model"] = Bpe(vocab, merges, unk: null, byteFallback: false, subwordMarks: ""),
        }.ToJsonString();
    }

    /// <summary>LLaMA-2 style. 0 &lt;unk&gt;, 1 &lt;s&gt;, 2 &lt;/s&gt;, 3..258 &lt;0x00&gt;..&lt;0xFF&gt;
    /// (byte b is b+3), 259 ▁, 260..265 t h e c a s, merges by rank: 266 ▁t, 267 he, 268 ▁the,
    /// 269 ▁c, 270 at, 271 ▁cat. With <paramref name="metaspace"/> the newer layout: no
    /// normalizer but a Metaspace pre-tokenizer that prepends ▁ only at the start of the text.</summary>
    public static string SentencePiece(bool metaspace = false)
    {
        var vocab = new JsonObject { ["<unk>"] = 0, ["<s>"] = 1, ["</s>"] = 2 };
        for (int b = 0; b < 256; b++)
            vocab[$"<0x{b:X2}>"] = b + 3;
        string[] pieces = ["▁", "t", "h", "e", "c", "a", "s"];
        for (int i = 0; i < pieces.Length; i++)
            vocab[pieces[i]] = 259 + i;
        string[] merges = ["▁ t", "h e", "▁t he", "▁ c", "a t", "▁c at"];
        for (int i = 0; i < merges.Length; i++)
            vocab[merges[i].Replace(" ", "")] = 266 + i;

        JsonNode? normalizer = metaspace ? null : new JsonObject
        {
            ["type"] = "Sequence",
            ["normalizers"] = new JsonArray(
                new JsonObject { ["type"] = "Prepend", ["prepend"] = "▁" },
                new JsonObject { ["type"] = "Replace", ["pattern"] = new JsonObject { ["String"] = " " }, ["content"] = "▁" }),
        };
        JsonNode? preTokenizer = metaspace
            ? new JsonObject { ["type"] = "Metaspace", ["replacement"] = "▁", ["prepend_scheme"] = "first", ["split"] = false }
            : null;
        return new JsonObject
        {
            ["version"] = "1.0",
            ["added_tokens"] = new JsonArray(Added(0, "<unk>", false), Added(1, "<s>", false), Added(2, "</s>", false)),
            ["normalizer"] = normalizer,
            ["pre_tokenizer"] = preTokenizer,
            ["post_processor"] = JsonNode.Parse("""
                {"type": "TemplateProcessing",
                 "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                 "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                          {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
                 "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}}
                """),
            ["decoder"] = JsonNode.Parse("""
                {"type": "Sequence", "decoders": [
                  {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
                  {"type": "ByteFallback"}, {"type": "Fuse"},
                  {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}
                """),
            ["model"] = Bpe(vocab, merges, unk: "<unk>", byteFallback: true, subwordMarks: null),
        }.ToJsonString();
    }

    /// <summary>Writes tokenizer.json (and tokenizer_config.json when given) into a new folder.</summary>
    public static TempDir Directory(string tokenizerJson, string? configJson = null)
    {
        var dir = new TempDir();
        File.WriteAllText(dir.File("tokenizer.json"), tokenizerJson);
        if (configJson is not null)
            File.WriteAllText(dir.File("tokenizer_config.json"), configJson);
        return dir;
    }

    /// <summary>GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves, the
    /// others take U+0100 upwards in byte order.</summary>
    public static char ByteChar(int b)
    {
        int next = 256;
        for (int x = 0; x < 256; x++)
        {
            bool printable = x is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            if (x == b)
                return printable ? (char)x : (char)next;
            if (!printable)
                next++;
        }
        throw new ArgumentOutOfRangeException(nameof(b));
    }

    private static JsonObject Added(int id, string content, bool normalized) => new()
    {
        ["id"] = id, ["content"] = content, ["single_word"] = false, ["lstrip"] = false,
        ["rstrip"] = false, ["normalized"] = normalized, ["special"] = true,
    };

    private static JsonObject Bpe(JsonObject vocab, string[] merges, string? unk, bool byteFallback, string? subwordMarks) => new()
    {
        ["type"] = "BPE", ["dropout"] = null, ["unk_token"] = unk,
        ["continuing_subword_prefix"] = subwordMarks, ["end_of_word_suffix"] = subwordMarks,
        ["fuse_unk"] = byteFallback, ["byte_fallback"] = byteFallback, ["ignore_merges"] = false,
        ["vocab"] = vocab, ["merges"] = JsonSerializer.SerializeToNode(merges),
    };
}
