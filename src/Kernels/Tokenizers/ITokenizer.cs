namespace LlmEngine.Kernels.Tokenizers;

/// <summary>Text to token ids and back. Implementations: llama2.c's binary vocabulary,
/// Hugging Face tokenizer.json (byte-level BPE and SentencePiece-style BPE with byte fallback).</summary>
public interface ITokenizer
{
    int VocabSize { get; }
    int? BosTokenId { get; }
    int? EosTokenId { get; }

    /// <summary>Encodes text; with <paramref name="addSpecialTokens"/> the tokenizer's own
    /// prefix (BOS for LLaMA-style tokenizers) is added as its configuration says.</summary>
    int[] Encode(string text, bool addSpecialTokens = true);

    /// <summary>As <see cref="Encode(string, bool)"/>, stopping with <see cref="OperationCanceledException"/>
    /// once <paramref name="ct"/> is cancelled (a client that left during a long prompt's encoding).
    /// Tokenizers whose work is small whatever the text need not check it.</summary>
    int[] Encode(string text, bool addSpecialTokens, CancellationToken ct) => Encode(text, addSpecialTokens);

    /// <summary>Decodes ids to text. Special tokens (BOS, EOS, ...) are skipped when asked.
    /// Byte tokens are joined to bytes before UTF-8 decoding, so a character split over
    /// tokens decodes whole; an incomplete trailing sequence yields U+FFFD.</summary>
    string Decode(IReadOnlyList<int> ids, bool skipSpecialTokens = true);

    /// <summary>The UTF-8 bytes this token adds to a text in the middle of a sequence (a
    /// SentencePiece word-start mark is a space; a byte token is its byte), for matching tokens
    /// against a constraint. Empty for special tokens.</summary>
    byte[] TokenBytes(int id);

    /// <summary>True for ids that are control tokens rather than text (BOS, EOS, pad, ...).</summary>
    bool IsSpecial(int id);
}
