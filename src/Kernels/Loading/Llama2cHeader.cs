using System.Buffers.Binary;

namespace LlmEngine.Kernels.Loading;

/// <summary>The 7 int32 header of a legacy llama2.c checkpoint. <see cref="VocabSize"/> is the
/// absolute value of the stored field, whose sign says whether the classifier is the embedding
/// table (positive, <see cref="SharedClassifier"/>) or a separate matrix at the end (negative).</summary>
internal sealed record Llama2cHeader(int Dim, int HiddenDim, int NumLayers, int NumHeads, int NumKvHeads, int VocabSize, int SeqLen, bool SharedClassifier)
{
    public const int Bytes = 7 * sizeof(int);

    public int HeadSize => Dim / NumHeads;
    public int KvDim => Dim / NumHeads * NumKvHeads;

    /// <summary>The fields as stored; check <see cref="Problem"/> before trusting them.</summary>
    public static Llama2cHeader Parse(ReadOnlySpan<byte> bytes)
    {
        Span<int> f = stackalloc int[7];
        for (int i = 0; i < 7; i++) f[i] = BinaryPrimitives.ReadInt32LittleEndian(bytes[(4 * i)..]);
        // Clamping keeps Math.Abs from overflowing on int.MinValue; such a vocabulary fails the size check.
        int vocab = Math.Abs(Math.Max(f[5], -int.MaxValue));
        return new Llama2cHeader(f[0], f[1], f[2], f[3], f[4], vocab, f[6], f[5] > 0);
    }

    public void WriteTo(Span<byte> bytes)
    {
        int[] fields = [Dim, HiddenDim, NumLayers, NumHeads, NumKvHeads, SharedClassifier ? VocabSize : -VocabSize, SeqLen];
        for (int i = 0; i < 7; i++) BinaryPrimitives.WriteInt32LittleEndian(bytes[(4 * i)..], fields[i]);
    }

    /// <summary>Why these fields cannot describe a model, or null when they can.</summary>
    public string? Problem()
    {
        if (Dim <= 0 || HiddenDim <= 0 || NumLayers <= 0 || NumHeads <= 0 || NumKvHeads <= 0 || VocabSize <= 0 || SeqLen <= 0)
            return $"header fields must be positive (vocab may be negative) but are: {this}";
        if (Dim % NumHeads != 0 || NumHeads % NumKvHeads != 0 || HeadSize % 2 != 0)
            return $"dim must split into heads of even size, and query heads evenly over key/value heads, but the header is: {this}";
        return null;
    }

    /// <summary>The stored fields only: the derived sizes would divide by zero on a corrupt header.</summary>
    public override string ToString() =>
        $"dim {Dim}, hidden {HiddenDim}, layers {NumLayers}, heads {NumHeads}/{NumKvHeads}, vocab {VocabSize}, seq {SeqLen}, {(SharedClassifier ? "shared" : "separate")} classifier";
}
