using System.Text;

namespace LlmEngine.Kernels.Tokenizers;

/// <summary>What <see cref="Llama2cTokenizer"/> needs of a scored vocabulary: pieces (raw UTF-8, spaces
/// as ' '), merge scores, which pieces merges may form, the byte-fallback id of each byte, the control
/// ids, and the tokens matched literally in text.</summary>
internal sealed record SentencePieceVocabulary(
    byte[][] Pieces, float[] Scores, int? Bos, int? Eos, bool AddBos, bool AddSpacePrefix,
    int[] ByteIds, IReadOnlySet<int> Special, IReadOnlyList<AddedToken> Added, bool[]? MergeMask = null)
{
    /// <summary>llama2.c's fixed byte fallback: ids 3..258 are &lt;0x00&gt;..&lt;0xFF&gt;.</summary>
    public const int Llama2cByteOffset = 3;

    public bool Mergeable(int id) => MergeMask?[id] ?? true;

    public bool IsSpecial(int id) => Special.Contains(id);

    /// <summary>A llama2.c tokenizer file: BOS 1 and EOS 2, every piece mergeable, no added tokens.</summary>
    public static SentencePieceVocabulary Llama2c(byte[][] pieces, float[] scores) => new(
        pieces, scores, Bos: 1, Eos: 2, AddBos: true, AddSpacePrefix: true,
        ByteIds: Enumerable.Range(Llama2cByteOffset, 256).ToArray(), Special: new HashSet<int> { 1, 2 }, Added: []);

    // GGUF's tokenizer.ggml.token_type values (llama.cpp's llama_token_type).
    private const int Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6;

    /// <summary>A GGUF <c>llama</c> vocabulary: SentencePiece pieces with '▁' for spaces. Control and
    /// unknown tokens are special; control and user-defined ones are matched literally in text (as
    /// llama.cpp's server tokenizes prompts); only normal and user-defined pieces take part in merges.</summary>
    public static SentencePieceVocabulary Gguf(string[] tokens, float[] scores, int[] types, int? bos, int? eos, int? unknown, bool addBos, bool addSpacePrefix)
    {
        var pieces = tokens.Select(t => Encoding.UTF8.GetBytes(t.Replace('\u2581', ' '))).ToArray();
        var byteIds = new int[256];
        Array.Fill(byteIds, unknown ?? -1);
        for (int i = 0; i < tokens.Length; i++)
            if (types[i] == Byte && tokens[i] is { Length: 6 } t && t.StartsWith("<0x", StringComparison.Ordinal)
                && byte.TryParse(t.AsSpan(3, 2), System.Globalization.NumberStyles.HexNumber, null, out byte b))
                byteIds[b] = i;
        if (byteIds.Contains(-1))
            throw new InvalidDataException("the vocabulary has neither a byte token for every byte nor an unknown token");
        var special = new HashSet<int>(Enumerable.Range(0, tokens.Length).Where(i => types[i] is Control or Unknown));
        var added = Enumerable.Range(0, tokens.Length)
            .Where(i => types[i] is Control or UserDefined)
            .Select(i => new AddedToken(i, tokens[i], types[i] == Control, false, false, false, false))
            .ToList();
        var mask = types.Select(t => t is Normal or UserDefined).ToArray();
        return new(pieces, scores, bos, eos, addBos, addSpacePrefix, byteIds, special, added, mask);
    }
}
