using LlmEngine.Kernels.Models;
using LlmEngine.Tests.Families;
using LlmEngine.Tests.Loading;
using TorchSharp;

namespace LlmEngine.Tests.Gguf;

/// <summary>stories260K as llama.cpp's converter wrote it (GGUF F32: Q/K rows reordered, half-split rotary
/// after loading, the tokenizer from the metadata) and as llama2.c wrote it (interleaved rotary,
/// tok512.bin): the same prompts become the same ids and the same greedy tokens, on prompts of the
/// reference file and on new ones.</summary>
[Trait("Category", "Slow")]
public class GgufAgainstLlama2cTests
{
    private static readonly string[] Prompts =
    [
        "Once upon a time", "Sam had a red kite", "The cat and the dog were friends. One day,",
        "Mia wanted to bake a cake for her mom", "Lily and Tom went to the park",
    ];

    [Fact]
    public void SamePromptsGiveTheSameIdsAndGreedyTokens()
    {
        using var gguf = ModelFactory.Load(GgufReference.ModelPath("stories260K-f32.gguf"), "auto", torch.ScalarType.Float32, torch.CPU, maxModelLength: 512);
        using var llama2c = ModelFactory.Load(SharedModels.Stories260K, "auto", torch.ScalarType.Float32, torch.CPU);
        var ids = Prompts.Select(p => llama2c.Tokenizer!.Encode(p)).ToArray();
        Assert.Equal(ids, Prompts.Select(p => gguf.Tokenizer!.Encode(p)).ToArray());
        var expected = AttentionPath.Dense.Greedy(llama2c.Model, ids, maxTokens: 60);
        Assert.Equal(expected, AttentionPath.Dense.Greedy(gguf.Model, ids, maxTokens: 60));
    }
}
