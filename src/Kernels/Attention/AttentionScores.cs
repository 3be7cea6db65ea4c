namespace LlmEngine.Kernels.Attention;

/// <summary>
/// How one layer turns q·k into attention weights, in this order: multiply by <see cref="Scale"/>;
/// soft-cap as <c>SoftCap * tanh(s / SoftCap)</c> when <see cref="SoftCap"/> &gt; 0 (Gemma 2);
/// then the causal mask, narrowed to a sliding window when <see cref="Window"/> &gt; 0: the query
/// at position i sees keys j with i - Window &lt; j &lt;= i (Mistral, Starcoder2, Gemma 2's even layers).
/// </summary>
public sealed record AttentionScores(double Scale, int Window = 0, double SoftCap = 0)
{
    /// <summary>First key position a query at <paramref name="position"/> sees.</summary>
    public int FirstVisible(int position) => Window > 0 ? Math.Max(0, position - Window + 1) : 0;
}
