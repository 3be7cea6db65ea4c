using System.Text;
using LlmEngine.Kernels.Loading;

namespace LlmEngine.Kernels.Tokenizers;

/// <summary>SentencePiece-style BPE driven by piece scores, encoding exactly as llama2.c's <c>run.c</c>
/// does (see shared/models/stories260K/FORMAT.md) and as llama.cpp's SPM tokenizer does for GGUF's
/// <c>llama</c> vocabularies: score-driven merges over single codepoints with byte fallback, not the
/// rank-driven merges of Hugging Face BPE, which is why Microsoft.ML.Tokenizers (whose SentencePiece
/// support also wants a protobuf model file) is not used here. Built from a llama2.c tokenizer file
/// (<see cref="Load"/>) or from a GGUF vocabulary (<see cref="SentencePieceVocabulary"/>).</summary>
public sealed class Llama2cTokenizer : ITokenizer
{
    // run.c starts its best-score search here, so a piece scored at or below it never merges.
    private const float NoScore = -1e10f;

    private readonly SentencePieceVocabulary _vocab;
    // Pieces as Latin-1 strings (one char per byte) so raw bytes can key a dictionary and a
    // pair can be looked up from a stack buffer without allocating a string per candidate.
    private readonly string[] _keys;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly int _maxKeyLength;
    private readonly int _spaceId;
    private readonly int[] _byteValues; // HH for a piece spelled <0xHH>, else -1
    private readonly AddedTokenMatcher? _addedTokens;

    internal Llama2cTokenizer(SentencePieceVocabulary vocab)
    {
        _vocab = vocab;
        _keys = Array.ConvertAll(vocab.Pieces, Encoding.Latin1.GetString);
        var ids = new Dictionary<string, int>(_keys.Length, StringComparer.Ordinal);
        for (int i = 0; i < _keys.Length; i++)
            if (vocab.Mergeable(i))
                ids.TryAdd(_keys[i], i); // like run.c's binary search, the first of equal pieces wins
        _lookup = ids.GetAlternateLookup<ReadOnlySpan<char>>();
        _maxKeyLength = _keys.Max(k => k.Length);
        _spaceId = ids.GetValueOrDefault(" ", -1);
        _byteValues = Array.ConvertAll(_keys, ByteValue);
        _addedTokens = vocab.Added.Count > 0 ? new AddedTokenMatcher(vocab.Added) : null;
    }

    /// <summary>Reads <paramref name="path"/> holding <paramref name="vocabSize"/> tokens (the
    /// model header's vocab_size; its sign, which only says whether the classifier is shared,
    /// is ignored). Throws <see cref="ModelLoadException"/> naming the file when it is malformed.</summary>
    public static Llama2cTokenizer Load(string path, int vocabSize)
    {
        vocabSize = Math.Abs(vocabSize);
        if (vocabSize < SentencePieceVocabulary.Llama2cByteOffset + 256)
            throw new ModelLoadException($"{path}: vocab_size {vocabSize} is too small for llama2.c's 3 control and 256 byte tokens");
        var file = Llama2cVocabulary.Read(path, vocabSize);
        return new Llama2cTokenizer(SentencePieceVocabulary.Llama2c(file.Pieces, file.Scores));
    }

    public int VocabSize => _keys.Length;
    public int? BosTokenId => _vocab.Bos;
    public int? EosTokenId => _vocab.Eos;
    public bool IsSpecial(int id) => _vocab.IsSpecial(id);

    /// <summary>BOS (when asked and the vocabulary adds it), then each stretch of text between added
    /// tokens (GGUF control and user-defined tokens written literally) encoded by <see cref="EncodeText"/>;
    /// never EOS, as run.c's generate() does.</summary>
    public int[] Encode(string text, bool addSpecialTokens = true)
    {
        var ids = new List<int>(text.Length + 2);
        if (addSpecialTokens && _vocab.AddBos && _vocab.Bos is int bos)
            ids.Add(bos);
        if (_addedTokens is null)
        {
            EncodeText(text, ids);
            return ids.ToArray();
        }
        foreach (var (added, start, end) in _addedTokens.Split(text))
        {
            if (added is int id) ids.Add(id);
            else EncodeText(text[start..end], ids);
        }
        return ids.ToArray();
    }

    /// <summary>The dummy-prefix piece " ", one piece per codepoint or its bytes, then merges.</summary>
    private void EncodeText(string text, List<int> output)
    {
        byte[] utf8 = Encoding.UTF8.GetBytes(text);
        var ids = new int[utf8.Length + 1];
        int n = 0;
        if (utf8.Length > 0 && _spaceId >= 0 && _vocab.AddSpacePrefix)
            ids[n++] = _spaceId;

        Span<char> codepoint = stackalloc char[4];
        for (int i = 0; i < utf8.Length;)
        {
            // A lead byte and the continuation bytes after it, at most 4, as run.c groups them.
            int length = 1;
            while (length < 4 && i + length < utf8.Length && (utf8[i + length] & 0xC0) == 0x80)
                length++;
            for (int k = 0; k < length; k++)
                codepoint[k] = (char)utf8[i + k];
            if (_lookup.TryGetValue(codepoint[..length], out int id))
                ids[n++] = id;
            else
                for (int k = 0; k < length; k++)
                    ids[n++] = _vocab.ByteIds[utf8[i + k]];
            i += length;
        }

        n = Merge(ids, n);
        output.AddRange(ids.AsSpan(0, n));
    }

    /// <summary>Repeatedly replaces the adjacent pair whose concatenation is the best-scored
    /// piece (leftmost on ties) until no pair forms a piece. O(n^2) like run.c, but each pair is
    /// looked up once and again only when a merge changes one of its sides.</summary>
    private int Merge(int[] ids, int n)
    {
        var merged = new int[Math.Max(n - 1, 0)]; // merged[i]: piece for (ids[i], ids[i+1]) or -1
        for (int i = 0; i < n - 1; i++)
            merged[i] = PairId(ids[i], ids[i + 1]);

        while (true)
        {
            int best = -1;
            float bestScore = NoScore;
            for (int i = 0; i < n - 1; i++)
            {
                if (merged[i] >= 0 && _vocab.Scores[merged[i]] > bestScore)
                {
                    best = i;
                    bestScore = _vocab.Scores[merged[i]];
                }
            }
            if (best < 0)
                return n;

            ids[best] = merged[best];
            Array.Copy(ids, best + 2, ids, best + 1, n - best - 2);
            Array.Copy(merged, best + 1, merged, best, n - best - 2);
            n--;
            if (best > 0)
                merged[best - 1] = PairId(ids[best - 1], ids[best]);
            if (best < n - 1)
                merged[best] = PairId(ids[best], ids[best + 1]);
        }
    }

    private int PairId(int left, int right)
    {
        string a = _keys[left], b = _keys[right];
        if (a.Length + b.Length > _maxKeyLength)
            return -1;
        Span<char> pair = stackalloc char[a.Length + b.Length];
        a.CopyTo(pair);
        b.CopyTo(pair[a.Length..]);
        return _lookup.TryGetValue(pair, out int id) ? id : -1;
    }

    /// <summary>Joins the pieces' bytes (a <c>&lt;0xHH&gt;</c> piece is the byte HH), dropping one
    /// leading space from the piece after BOS as run.c prints it, then decodes UTF-8. Ids outside
    /// the vocabulary are skipped.</summary>
    public string Decode(IReadOnlyList<int> ids, bool skipSpecialTokens = true)
    {
        var bytes = new List<byte>(ids.Count * 4);
        int previous = -1;
        foreach (int id in ids)
        {
            if ((uint)id >= (uint)_keys.Length || (skipSpecialTokens && IsSpecial(id)))
            {
                previous = id;
                continue;
            }
            ReadOnlySpan<byte> piece = _vocab.Pieces[id];
            if (previous == _vocab.Bos && piece.Length > 0 && piece[0] == (byte)' ')
                piece = piece[1..];
            if (_byteValues[id] >= 0)
                bytes.Add((byte)_byteValues[id]);
            else
                bytes.AddRange(piece);
            previous = id;
        }
        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    public byte[] TokenBytes(int id) =>
        (uint)id >= (uint)_keys.Length || IsSpecial(id) ? [] : _byteValues[id] >= 0 ? [(byte)_byteValues[id]] : _vocab.Pieces[id].ToArray();

    /// <summary>HH for a piece spelled <c>&lt;0xHH&gt;</c> (as run.c's sscanf reads it), else -1.</summary>
    private static int ByteValue(string key) =>
        key.Length == 6 && key.StartsWith("<0x", StringComparison.Ordinal) && key[5] == '>'
            && byte.TryParse(key.AsSpan(3, 2), System.Globalization.NumberStyles.HexNumber, null, out byte b)
            ? b
            : -1;
}
