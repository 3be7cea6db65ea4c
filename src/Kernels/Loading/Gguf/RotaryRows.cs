using LlmEngine.Kernels.Quantization;

namespace LlmEngine.Kernels.Loading.Gguf;

/// <summary>
/// llama.cpp's converter reorders the rows of each head of Q and K so that ggml's rotary, which rotates
/// adjacent pairs, computes what Hugging Face's half-split rotary does:
/// <code>
/// Hugging Face row of a head: half * (d/2) + j      (half 0/1, j &lt; d/2)
/// GGUF row of the same head:  j * 2 + half
/// </code>
/// Undoing it is a pure row gather, exact for any block type since a row's blocks never straddle rows.
/// A bias (one-dimensional) is the same gather over its elements.
/// </summary>
internal static unsafe class RotaryRows
{
    /// <summary>For each Hugging Face row, the GGUF row it comes from.</summary>
    public static int[] SourceRows(int rows, int heads)
    {
        if (heads <= 0 || rows % (2 * heads) != 0)
            throw new ModelLoadException($"{rows} rows do not split into {heads} rotary heads of even size");
        int headSize = rows / heads, half = headSize / 2;
        var source = new int[rows];
        for (int h = 0; h < heads; h++)
            for (int part = 0; part < 2; part++)
                for (int j = 0; j < half; j++)
                    source[h * headSize + part * half + j] = h * headSize + 2 * j + part;
        return source;
    }

    public static QuantizedTensor Unpermute(QuantizedTensor stored, int heads)
    {
        // A vector (bias) is one row: gather its elements, which are F32/F16 (one per block).
        bool vector = stored.Shape.Count == 1;
        int rows = (int)(vector ? stored.RowLength : stored.Rows);
        long unit = vector ? stored.Info.BlockBytes : stored.RowBytes;
        if (vector && stored.Info.IsQuantized)
            throw new ModelLoadException($"a {stored.Info.Name} bias cannot be un-permuted element by element");
        var source = SourceRows(rows, heads);
        var bytes = new byte[rows * unit];
        var from = new ReadOnlySpan<byte>((void*)stored.Data, checked((int)(rows * unit)));
        for (int r = 0; r < rows; r++)
            from.Slice((int)(source[r] * unit), (int)unit).CopyTo(bytes.AsSpan((int)(r * unit), (int)unit));
        return QuantizedTensor.FromBlocks(stored.Type, stored.Shape.ToArray(), bytes);
    }
}
