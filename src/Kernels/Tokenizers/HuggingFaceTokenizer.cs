using System.Text.Json;
using LlmEngine.Kernels.Loading;

namespace LlmEngine.Kernels.Tokenizers;

/// <summary>A Hugging Face <c>tokenizer.json</c> with a BPE model, byte-level (GPT-2, OPT,
/// LLaMA-3) or SentencePiece-style with byte fallback (LLaMA-1/2, Mistral), run through the same
/// pipeline as the <c>tokenizers</c> library so the ids match it:
/// <code>
///  text ─► split out added tokens (raw) ─► normalize each piece ─► split out added tokens
///        (normalized) ─► pre-tokenize ─► BPE per word ─► template prefix/suffix
/// </code>
/// Microsoft.ML.Tokenizers has no tokenizer.json loader and covers only the BPE merge step of
/// this (see <see cref="BpeModel"/>); the other stages are small files beside this one.</summary>
internal sealed class HuggingFaceTokenizer : ITokenizer
{
    private readonly BpeModel _model;
    private readonly Func<string, string>? _normalizer;
    private readonly PreTokenizeStep[] _preTokenizer;
    private readonly Func<List<string>, string> _decoder;
    private readonly SpecialTokenTemplate _template;
    private readonly AddedTokenMatcher _rawMatcher;
    private readonly AddedTokenMatcher _normalizedMatcher;
    private readonly Dictionary<int, AddedToken> _added;
    private readonly bool _byteLevel;

    private HuggingFaceTokenizer(JsonElement spec, TokenizerConfig config)
    {
        _model = BpeModel.Parse(spec.Req("model"));
        _normalizer = HfNormalizer.Parse(spec.Opt("normalizer"));
        _preTokenizer = HfPreTokenizer.Parse(spec.Opt("pre_tokenizer"));
        _decoder = HfDecoder.Parse(spec.Opt("decoder"));
        _byteLevel = spec.Opt("decoder")?.GetRawText().Contains("\"ByteLevel\"", StringComparison.Ordinal) == true;

        // A token marked normalized is looked for in normalized text, so Hugging Face stores it
        // normalized (with LLaMA's Prepend normalizer "cat" becomes "▁cat") and decodes it so.
        AddedToken[] added = spec.Opt("added_tokens") is { } list
            ? list.EnumerateArray().Select(t => new AddedToken(
                t.Req("id").GetInt32(), t.Str("content"), t.Bool("special", false), t.Bool("normalized", false),
                t.Bool("lstrip", false), t.Bool("rstrip", false), t.Bool("single_word", false)))
                .Select(t => t.Normalized && _normalizer is not null ? t with { Content = _normalizer(t.Content) } : t)
                .ToArray()
            : [];
        _added = added.ToDictionary(t => t.Id);
        _rawMatcher = new(added.Where(t => !t.Normalized));
        _normalizedMatcher = new(added.Where(t => t.Normalized));
        VocabSize = Math.Max(_model.MaxId, added.Length == 0 ? -1 : added.Max(t => t.Id)) + 1;

        // BOS/EOS: as the config names them, else the template's lone prefix/suffix token.
        var template = SpecialTokenTemplate.Parse(spec.Opt("post_processor"));
        BosTokenId = TokenId(config.BosToken, "bos_token") ?? Lone(template.Prefix);
        EosTokenId = TokenId(config.EosToken, "eos_token") ?? Lone(template.Suffix);
        // add_bos_token/add_eos_token, where the config has them, replace the template's ends
        // (transformers rebuilds a LLaMA tokenizer's post-processor from them the same way).
        _template = new(
            Ends(config.AddBosToken, BosTokenId, "add_bos_token") ?? template.Prefix,
            Ends(config.AddEosToken, EosTokenId, "add_eos_token") ?? template.Suffix);
    }

    /// <summary>Reads <c>tokenizer.json</c> in <paramref name="directory"/>, and
    /// <c>tokenizer_config.json</c> when present. Throws <see cref="ModelLoadException"/> naming
    /// the faulty file.</summary>
    public static HuggingFaceTokenizer Load(string directory)
    {
        string configPath = Path.Combine(directory, "tokenizer_config.json");
        TokenizerConfig config = File.Exists(configPath) ? Read(configPath, TokenizerConfig.Parse) : TokenizerConfig.None;
        return Read(Path.Combine(directory, "tokenizer.json"), spec => new HuggingFaceTokenizer(spec, config));
    }

    /// <summary>A tokenizer from a tokenizer.json built in memory (a GGUF vocabulary), with the BOS and
    /// EOS tokens and the add flags tokenizer_config.json would give.</summary>
    public static HuggingFaceTokenizer FromSpec(System.Text.Json.Nodes.JsonObject spec, string? bos, string? eos, bool addBos, bool addEos)
    {
        using JsonDocument document = JsonDocument.Parse(spec.ToJsonString());
        return new HuggingFaceTokenizer(document.RootElement, new TokenizerConfig(bos, eos, addBos, addEos));
    }

    private static T Read<T>(string path, Func<JsonElement, T> build)
    {
        try
        {
            using JsonDocument document = JsonDocument.Parse(File.ReadAllBytes(path));
            return build(document.RootElement);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException
            or InvalidDataException or InvalidOperationException or ArgumentException or FormatException)
        {
            throw new ModelLoadException($"{path}: {e.Message.ReplaceLineEndings(" ")}", e);
        }
    }

    private int? TokenId(string? content, string name) =>
        content is null ? null
            : _added.Values.FirstOrDefault(t => t.Content == content)?.Id ?? _model.IdOf(content)
              ?? throw new InvalidDataException($"{name} '{content}' of tokenizer_config.json is not in the vocabulary");

    private static int? Lone(int[] ids) => ids.Length == 1 ? ids[0] : null;

    private static int[]? Ends(bool? add, int? id, string flag) => add switch
    {
        null => null,
        false => [],
        true => id is int token ? [token] : throw new InvalidDataException($"{flag} is set in tokenizer_config.json but there is no such token"),
    };

    public int VocabSize { get; }
    public int? BosTokenId { get; }
    public int? EosTokenId { get; }

    public bool IsSpecial(int id) => id == BosTokenId || id == EosTokenId || (_added.TryGetValue(id, out var t) && t.Special);

    /// <summary>Byte-level tokens map their alphabet back to bytes; SentencePiece-style ones
    /// turn the word mark into a space and a <c>&lt;0xHH&gt;</c> token into its byte.</summary>
    public byte[] TokenBytes(int id)
    {
        if (IsSpecial(id)) return [];
        if (_added.TryGetValue(id, out var added)) return System.Text.Encoding.UTF8.GetBytes(added.Content);
        if (_model.TokenOf(id) is not string token) return [];
        if (_byteLevel && token.All(ByteLevelAlphabet.CharToByte.ContainsKey)) return token.Select(c => ByteLevelAlphabet.CharToByte[c]).ToArray();
        if (token.Length == 6 && token.StartsWith("<0x", StringComparison.Ordinal) && token[5] == '>'
            && byte.TryParse(token.AsSpan(3, 2), System.Globalization.NumberStyles.HexNumber, null, out byte b))
            return [b];
        return System.Text.Encoding.UTF8.GetBytes(token.Replace('\u2581', ' '));
    }

    public int[] Encode(string text, bool addSpecialTokens = true) => Encode(text, addSpecialTokens, CancellationToken.None);

    public int[] Encode(string text, bool addSpecialTokens, CancellationToken ct)
    {
        var ids = new List<int>(text.Length / 3 + 4);
        if (addSpecialTokens)
            ids.AddRange(_template.Prefix);
        foreach (var (addedId, start, end) in _rawMatcher.Split(text))
        {
            if (addedId is int id)
            {
                ids.Add(id);
                continue;
            }
            string piece = text[start..end];
            string normalized = _normalizer?.Invoke(piece) ?? piece;
            foreach (var (normalizedId, from, to) in _normalizedMatcher.Split(normalized))
            {
                if (normalizedId is int n)
                    ids.Add(n);
                else
                    foreach (string word in HfPreTokenizer.Run(_preTokenizer, normalized[from..to], atStart: start == 0 && from == 0))
                    {
                        ct.ThrowIfCancellationRequested();
                        _model.Encode(word, ids);
                    }
            }
        }
        if (addSpecialTokens)
            ids.AddRange(_template.Suffix);
        return ids.ToArray();
    }

    /// <summary>Token strings (added tokens by content) through the decoder chain; unknown ids
    /// are skipped, as Hugging Face does for ids past the tokenizer (padded vocabularies).</summary>
    public string Decode(IReadOnlyList<int> ids, bool skipSpecialTokens = true)
    {
        var tokens = new List<string>(ids.Count);
        foreach (int id in ids)
        {
            if (skipSpecialTokens && IsSpecial(id))
                continue;
            if ((_added.TryGetValue(id, out var added) ? added.Content : _model.TokenOf(id)) is string token)
                tokens.Add(token);
        }
        return _decoder(tokens);
    }
}
