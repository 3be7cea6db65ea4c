using LlmEngine.Kernels.Loading.Gguf;
using LlmEngine.Kernels.Quantization;

namespace LlmEngine.Tests.Gguf;

/// <summary>llama-quantize made the quantized files from the F32 ones without an importance matrix, so our
/// reference quantizers must give its blocks byte for byte, tensor by tensor.</summary>
public class GgufQuantizedFilesTests
{
    public static TheoryData<string, string> Pairs() => new()
    {
        { "random-d256-f32.gguf", "random-d256-q8_0.gguf" },
        { "random-d256-f32.gguf", "random-d256-q4_0.gguf" },
        { "random-d256-f32.gguf", "random-d256-q4_k_m.gguf" },
        { "random-d256-f32.gguf", "random-d256-q5_k_m.gguf" },
        { "random-d256-f32.gguf", "random-d256-q6_k.gguf" },
        { "stories260K-f32.gguf", "stories260K-q8_0.gguf" },
        { "stories260K-f32.gguf", "stories260K-q4_0.gguf" },
    };

    [Theory]
    [MemberData(nameof(Pairs))]
    public void QuantizingTheF32WeightsGivesLlamaQuantizesBlocks(string f32, string quantized)
    {
        using var source = GgufFile.Open(GgufReference.ModelPath(f32));
        using var target = GgufFile.Open(GgufReference.ModelPath(quantized));
        int checkedTensors = 0;
        foreach (var info in target.Tensors.Values.Where(t => t.Type != GgmlType.F32))
        {
            using var weights = source.Tensor(info.Name);
            var values = new float[weights.ElementCount];
            weights.Dequantize(values);
            using var ours = QuantizedTensor.Quantize(info.Type, info.Shape, values);
            using var theirs = target.Tensor(info.Name);
            for (long r = 0; r < ours.Rows; r++)
                Assert.True(ours.Row(r).SequenceEqual(theirs.Row(r)), $"{info.Name} ({GgmlTypeInfo.Describe(info.Type)}) row {r}");
            checkedTensors++;
        }
        Assert.True(checkedTensors >= 15, $"only {checkedTensors} quantized tensors");
    }
}
