using System.Text;
using LlmEngine.Kernels.Loading;

namespace LlmEngine.Kernels.Tokenizers;

/// <summary>SentencePiece-style BPE driven by piece scores, encoding exactly as llama2.c's <c>run.c</c>
/// does (see shared/models/stories260K/FORMAT.md) and as llama.cpp's SPM tokenizer does for GGUF's
/// <c>llama</c> vocabularies: score-driven merges over single codepoints with byte fallback, not the
/// rank-driven merges of Hugging Face BPE, which is why Microsoft.ML.Tokenizers (whose SentencePiece
/// support also wants a protobuf model file) is not used here. Built from a llama2.c tokenizer file
/// (<see cref="Load"/>) or from a GGUF vocabulary (<see cref="SentencePieceVocabulary"/>).</summary>
internal sealed class Llama2cTokenizer : ITokenizer
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
    public int[] Encode(string text, bool addSpecialTokens = true) => Encode(text, addSpecialTokens, CancellationToken.None);

    public int[] Encode(string text, bool addSpecialTokens, CancellationToken ct)
    {
        var ids = new List<int>(text.Length + 2);
        if (addSpecialTokens && _vocab.AddBos && _vocab.Bos is int bos)
            ids.Add(bos);
        if (_addedTokens is null)
        {
            EncodeText(text, ids, ct);
            return ids.ToArray();
        }
        foreach (var (added, start, end) in _addedTokens.Split(text))
        {
            if (added is int id) ids.Add(id);
            else EncodeText(text[start..end], ids, ct);
        }
        return ids.ToArray();
    }

    /// <summary>The dummy-prefix piece " ", one piece per codepoint or its bytes, then merges.</summary>
    private void EncodeText(string text, List<int> output, CancellationToken ct)
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

        n = Merge(ids, n, ct);
        output.AddRange(ids.AsSpan(0, n));
    }

    /// <summary>Repeatedly replaces the adjacent pair whose concatenation is the best-scored
    /// piece (leftmost on ties) until no pair forms a piece: run.c's result, found as llama.cpp's
    /// SPM tokenizer finds it, with a priority queue of candidate pairs over a linked list of
    /// symbols, so O(n log n) instead of run.c's O(n^2). A pair whose sides changed since it was
    /// queued is stale and skipped (each position's version counts its changes).</summary>
    private int Merge(int[] ids, int n, CancellationToken ct)
    {
        if (n < 2) return n;
        var next = new int[n];
        var prev = new int[n];
        var version = new int[n];
        for (int i = 0; i < n; i++)
        {
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
        }
        var queue = new PriorityQueue<Candidate, (float Score, int Left)>(n, BestFirst);
        for (int i = 0; i < n - 1; i++)
            Enqueue(i, i + 1);

        for (int merges = 0; queue.TryDequeue(out var c, out _); merges++)
        {
            if ((merges & 0xFFF) == 0) ct.ThrowIfCancellationRequested();
            if (version[c.Left] != c.LeftVersion || version[c.Right] != c.RightVersion || next[c.Left] != c.Right)
                continue;
            ids[c.Left] = c.Piece;
            version[c.Left]++;
            version[c.Right]++; // removed: every pair queued with it is stale now
            next[c.Left] = next[c.Right];
            if (next[c.Left] >= 0) prev[next[c.Left]] = c.Left;
            if (prev[c.Left] >= 0) Enqueue(prev[c.Left], c.Left);
            if (next[c.Left] >= 0) Enqueue(c.Left, next[c.Left]);
        }

        int count = 0;
        for (int i = 0; i >= 0; i = next[i])
            ids[count++] = ids[i];
        return count;

        void Enqueue(int left, int right)
        {
            int piece = PairId(ids[left], ids[right]);
            // run.c's search starts at NoScore with a strict '>': a piece at or below it (or NaN) never merges.
            if (piece >= 0 && _vocab.Scores[piece] > NoScore)
                queue.Enqueue(new Candidate(left, right, version[left], version[right], piece), (_vocab.Scores[piece], left));
        }
    }

    private readonly record struct Candidate(int Left, int Right, int LeftVersion, int RightVersion, int Piece);

    // Highest score first; on equal scores the leftmost pair, as run.c's scan keeps the first best.
    private static readonly Comparer<(float Score, int Left)> BestFirst = Comparer<(float Score, int Left)>.Create((a, b) =>
        a.Score != b.Score ? b.Score.CompareTo(a.Score) : a.Left.CompareTo(b.Left));

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
