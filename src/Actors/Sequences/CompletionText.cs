using LlmEngine.Kernels.Sampling;
using LlmEngine.Kernels.Tokenizers;

namespace LlmEngine.Actors.Sequences;

/// <summary>
/// One completion's text as tokens arrive: incremental detokenisation, stop strings (the text
/// ends before the stop string unless asked to include it), and a hold-back of the last few
/// characters while a stop string could still be forming, so a stream never shows part of one.
/// </summary>
public sealed class CompletionText
{
    private readonly IncrementalDetokenizer? _detokenizer;
    private readonly SamplingParameters _sampling;
    private readonly int _holdBack;
    private string _text = "";
    private int _emitted;

    public CompletionText(ITokenizer? tokenizer, IReadOnlyList<int> promptTokenIds, SamplingParameters sampling)
    {
        _detokenizer = tokenizer is null ? null : new IncrementalDetokenizer(tokenizer, promptTokenIds, sampling.SkipSpecialTokens);
        _sampling = sampling;
        _holdBack = sampling.Stop.Count == 0 ? 0 : sampling.Stop.Max(s => s.Length) - 1;
    }

    public string Text => _text;
    public bool StoppedByString { get; private set; }

    /// <summary>Adds a token; returns the text that may be shown now.</summary>
    /// <param name="shown">False for a stop token (EOS or one of stop_token_ids) that ended the
    /// completion: as in vLLM its text is left out unless include_stop_str_in_output asks for it.</param>
    public string Append(int tokenId, bool finished, bool shown = true)
    {
        if (StoppedByString) return "";
        if (_detokenizer is not null)
        {
            int searchFrom = Math.Max(0, _text.Length - _holdBack);
            if (shown) _text += _detokenizer.Append(tokenId);
            if (finished) _text += _detokenizer.Flush();
            CutAtStopString(searchFrom);
        }
        int safe = finished || StoppedByString ? _text.Length : Math.Max(_emitted, _text.Length - _holdBack);
        var delta = _text[_emitted..safe];
        _emitted = safe;
        return delta;
    }

    private void CutAtStopString(int searchFrom)
    {
        int best = -1;
        string? found = null;
        foreach (var stop in _sampling.Stop)
        {
            int at = _text.IndexOf(stop, searchFrom, StringComparison.Ordinal);
            if (at >= 0 && (best < 0 || at < best)) { best = at; found = stop; }
        }
        if (found is null) return;
        _text = _text[..(_sampling.IncludeStopStringInOutput ? best + found.Length : best)];
        _emitted = Math.Min(_emitted, _text.Length);
        StoppedByString = true;
    }
}
