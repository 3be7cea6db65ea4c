using System.Text;
using System.Text.Json;
using Microsoft.ML.Tokenizers;

namespace LlmEngine.Kernels.Tokenizers;

/// <summary>tokenizer.json's BPE <c>model</c>, encoding one pre-tokenized word.
/// Microsoft.ML.Tokenizers' <see cref="BpeTokenizer"/> does the merging: built from the same
/// vocab and merges, its merge loop is a port of Hugging Face's (lowest merge rank first,
/// leftmost on ties), with the same unknown-token handling. Added here is what it lacks:
/// <c>byte_fallback</c> (LLaMA-1/2, Mistral) and <c>ignore_merges</c> (LLaMA-3).</summary>
internal sealed class BpeModel
{
    private readonly BpeTokenizer _bpe;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _vocab;
    private readonly bool _byteFallback;
    private readonly bool _ignoreMerges;
    private readonly int? _unknownId;
    private readonly Dictionary<int, string> _tokens;

    private BpeModel(BpeTokenizer bpe, Dictionary<string, int> vocab, bool byteFallback, bool ignoreMerges, int? unknownId)
    {
        _bpe = bpe;
        _vocab = vocab.GetAlternateLookup<ReadOnlySpan<char>>();
        _byteFallback = byteFallback;
        _ignoreMerges = ignoreMerges;
        _unknownId = unknownId;
        _tokens = vocab.ToDictionary(p => p.Value, p => p.Key);
        MaxId = vocab.Count == 0 ? -1 : vocab.Values.Max();
    }

    public int MaxId { get; }

    public static BpeModel Parse(JsonElement model)
    {
        if (model.Opt("type")?.GetString() is { } type && type != "BPE")
            throw JsonSpec.Unsupported("model", model);
        var vocab = model.Req("vocab").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt32(), StringComparer.Ordinal);
        // Merges are "a b" strings, or [a, b] pairs in files from tokenizers 0.20 on.
        string[] merges = model.Req("merges").EnumerateArray()
            .Select(m => m.ValueKind == JsonValueKind.Array ? $"{m[0].GetString()} {m[1].GetString()}" : m.GetString()!)
            .ToArray();
        // A pair listed twice keeps its last rank in Hugging Face's map; BpeTokenizer would throw.
        var lastRank = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < merges.Length; i++)
            lastRank[merges[i]] = i;
        merges = merges.Where((m, i) => lastRank[m] == i).ToArray();
        bool byteFallback = model.Bool("byte_fallback", false);
        string? unknown = model.Opt("unk_token")?.GetString();
        // GPT-2's file writes "" for these; empty means none.
        string? prefix = NoneIfEmpty(model.Opt("continuing_subword_prefix")?.GetString());
        string? suffix = NoneIfEmpty(model.Opt("end_of_word_suffix")?.GetString());

        // Byte fallback is done by merging the runs between unknown characters on their own,
        // which equals merging the whole word only while no merge involves a byte token and
        // words carry no prefix/suffix marks; refuse rather than tokenize differently.
        if (byteFallback && (prefix is not null || suffix is not null))
            throw new InvalidDataException("byte_fallback with continuing_subword_prefix or end_of_word_suffix is not supported");
        if (byteFallback && merges.SelectMany(m => m.Split(' ')).Any(IsByteToken))
            throw new InvalidDataException("byte_fallback with merges of byte tokens is not supported");

        var bpe = BpeTokenizer.Create(new BpeOptions(vocab)
        {
            Merges = merges,
            UnknownToken = unknown,
            FuseUnknownTokens = model.Bool("fuse_unk", false),
            ContinuingSubwordPrefix = prefix,
            EndOfWordSuffix = suffix,
        });
        int? unknownId = unknown is not null && vocab.TryGetValue(unknown, out int u) ? u : null;
        return new BpeModel(bpe, vocab, byteFallback, model.Bool("ignore_merges", false), unknownId);
    }

    public string? TokenOf(int id) => _tokens.GetValueOrDefault(id);

    public int? IdOf(string token) => _vocab.TryGetValue(token, out int id) ? id : null;

    public void Encode(string word, List<int> ids)
    {
        if (_ignoreMerges && _vocab.TryGetValue(word, out int whole))
        {
            ids.Add(whole);
            return;
        }
        if (!_byteFallback)
        {
            ids.AddRange(Merge(word));
            return;
        }

        int run = 0;
        for (int i = 0; i < word.Length;)
        {
            int length = char.IsSurrogatePair(word, i) ? 2 : 1;
            if (!_vocab.ContainsKey(word.AsSpan(i, length)))
            {
                ids.AddRange(Merge(word.AsSpan(run, i - run)));
                Fallback(word.AsSpan(i, length), ids);
                run = i + length;
            }
            i += length;
        }
        ids.AddRange(Merge(word.AsSpan(run)));
    }

    private IReadOnlyList<int> Merge(ReadOnlySpan<char> text) =>
        text.IsEmpty ? [] : _bpe.EncodeToIds(text, considerPreTokenization: false, considerNormalization: false);

    /// <summary>A character outside the vocabulary as its UTF-8 bytes' <c>&lt;0xHH&gt;</c> tokens,
    /// or the unknown token when one of those is missing.</summary>
    private void Fallback(ReadOnlySpan<char> character, List<int> ids)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(character.ToArray());
        int[] byteIds = Array.ConvertAll(bytes, b => _vocab.TryGetValue($"<0x{b:X2}>", out int id) ? id : -1);
        if (!byteIds.Contains(-1))
            ids.AddRange(byteIds);
        else if (_unknownId is int unknown)
            ids.Add(unknown);
    }

    private static string? NoneIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;

    private static bool IsByteToken(string token) =>
        token.Length == 6 && token.StartsWith("<0x", StringComparison.Ordinal) && token[5] == '>';
}
