using System.Text;

namespace LlmEngine.Kernels.Tokenizers;

/// <summary>Turns generated tokens into text as they arrive, for streaming. A token's text
/// depends on its left context (decoders drop a leading space at the start of a decode; a
/// character may span several byte tokens), so each step decodes a short window that starts a
/// few tokens back and keeps only what that window adds, as vLLM's detokenizer does:
/// <code>
///   tokens  … │ prefix ……………… │ unread ………… │
///             ▲ window start    ▲ read offset
///   delta = decode(prefix + unread) minus decode(prefix)
/// </code>
/// While the decoded window ends in U+FFFD (an incomplete UTF-8 sequence) nothing is emitted;
/// after emitting, the unread tokens become the next prefix. Each step costs O(window).</summary>
public sealed class IncrementalDetokenizer
{
    // Prompt tokens kept as the first prefix: enough context for any decoder's left-context rules.
    private const int PromptContext = 5;

    private readonly ITokenizer _tokenizer;
    private readonly bool _skipSpecialTokens;
    private readonly List<int> _window;
    private readonly StringBuilder _text = new();
    private int _readOffset;
    private string _prefixText;

    public IncrementalDetokenizer(ITokenizer tokenizer, IReadOnlyList<int> promptTokenIds, bool skipSpecialTokens = true)
    {
        _tokenizer = tokenizer;
        _skipSpecialTokens = skipSpecialTokens;
        _window = promptTokenIds.Skip(Math.Max(0, promptTokenIds.Count - PromptContext)).ToList();
        _readOffset = _window.Count;
        _prefixText = Decode();
    }

    /// <summary>All generated text emitted so far.</summary>
    public string Text => _text.ToString();

    /// <summary>Adds a generated token; returns the text it completes (often empty while a
    /// multi-byte character is still arriving).</summary>
    public string Append(int tokenId)
    {
        _window.Add(tokenId);
        string decoded = Decode();
        if (decoded.Length <= _prefixText.Length || decoded.EndsWith('\uFFFD'))
            return "";
        return Emit(decoded);
    }

    /// <summary>Releases text held back at the end of generation, incomplete character and all.</summary>
    public string Flush()
    {
        string decoded = Decode();
        return decoded.Length <= _prefixText.Length ? "" : Emit(decoded);
    }

    private string Emit(string decoded)
    {
        string delta = decoded[_prefixText.Length..];
        _text.Append(delta);
        _window.RemoveRange(0, _readOffset);
        _readOffset = _window.Count;
        _prefixText = Decode();
        return delta;
    }

    private string Decode() => _tokenizer.Decode(_window, _skipSpecialTokens);
}
