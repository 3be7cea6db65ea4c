namespace LlmEngine.Kernels.Structured;

/// <summary>
/// What one automaton state decides about every token, whatever stack lies below it: the tokens
/// it accepts (a bit set), and the tokens that run past the end of its rule and so depend on the
/// rest of the stack. Every other token is refused.
/// </summary>
internal sealed class TokenTable(ulong[] accepted, int[] uncertain)
{
    public ulong[] Accepted { get; } = accepted;
    public int[] Uncertain { get; } = uncertain;

    /// <summary>
    /// One walk of the vocabulary in sorted order from <paramref name="start"/> (a one-frame
    /// stack). states[d] is the state after the current token's first d bytes and is reused for
    /// the prefix the token shares with the one before; ended[d] says the frame could have ended
    /// after 1..d bytes. A token is accepted when its bytes leave a live state (or one where the
    /// frame may end); it is uncertain when the frame could end before its last byte, leaving the
    /// rest to whatever rule called this one.
    /// </summary>
    public static TokenTable Build(TokenGuide guide, GuideState start)
    {
        var vocabulary = guide.Vocabulary;
        var accepted = new ulong[vocabulary.MaskWords];
        var uncertain = new List<int>();
        var states = new GuideState[vocabulary.MaxTokenBytes + 1];
        var ended = new bool[vocabulary.MaxTokenBytes + 1];
        states[0] = start;
        int valid = 0;
        for (int i = 0; i < vocabulary.Sorted.Length; i++)
        {
            int id = vocabulary.Sorted[i];
            var bytes = vocabulary.Bytes[id];
            int n = bytes.Length;
            for (int d = Math.Min(vocabulary.SharedPrefix[i], valid); d < n; d++)
            {
                states[d + 1] = guide.Step(states[d], bytes[d]);
                ended[d + 1] = ended[d] || states[d + 1].CanEnd;
            }
            valid = n;
            if (states[n].Frames.Length > 0 || states[n].CanEnd) accepted[id >> 6] |= 1UL << (id & 63);
            else if (n >= 2 && ended[n - 1]) uncertain.Add(id);
        }
        return new TokenTable(accepted, uncertain.ToArray());
    }
}
