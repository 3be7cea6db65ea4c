using LlmEngine.Kernels.Models;
using LlmEngine.Kernels.Native;
using LlmEngine.Kernels.Quantization;
using LlmEngine.Tests.Families;
using LlmEngine.Tests.Loading;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Tests.Kernels;

/// <summary>
/// The fused decode layer (kernels/decode_layer.cpp, <see cref="DecodeLayer"/>) runs the layer's kernels in the order
/// of its calls one by one: every logit of a paged run (prompt chunks, decodes, several sequences, shuffled block
/// tables) has the same bits with it and without it, for every weight format it takes, and a sequence's logits do not
/// depend on the rest of its batch.
/// </summary>
public class DecodeLayerTests
{
    // A LLaMA with grouped-query attention, whose rows are whole blocks of every quantized type (256 for the K-quants).
    private const string Config = """
        {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 256, "intermediate_size": 512,
         "num_attention_heads": 4, "num_key_value_heads": 2, "num_hidden_layers": 2, "vocab_size": 256,
         "max_position_embeddings": 128, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": false}
        """;

    private static readonly int[][] Prompts = [[5, 17, 3, 99, 42, 7, 250, 11, 64], [8, 1, 200], [33, 34, 35, 36, 37, 38]];

    public static TheoryData<string, string?> Formats => new()
    {
        { "float32", null }, { "bfloat16", null }, { "float32", "q8_0" }, { "bfloat16", "q4_0" }, { "float32", "q4_0" }, { "bfloat16", "q4_k" },
    };

    private static LoadedModel Load(TempDir dir, string dtype, string? quantization)
    {
        File.WriteAllText(dir.File("config.json"), Config);
        return ModelFactory.Load(dir.Path, "dummy", dtype == "bfloat16" ? ScalarType.BFloat16 : ScalarType.Float32, CPU,
            quantization: ModelFactory.ParseQuantization(quantization));
    }

    private static Tensor[] Logits(ICausalLanguageModel model, IReadOnlyList<int[]> prompts, int chunk, bool fused)
    {
        bool before = DecodeLayer.Enabled;
        try
        {
            DecodeLayer.Enabled = fused;
            using var paged = new PagedHarness(model, "native", blockSize: 16, capacityTokens: 64, seed: 3);
            return paged.PromptLogits(prompts, chunk);
        }
        finally
        {
            DecodeLayer.Enabled = before;
        }
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void EveryLogitHasTheBitsOfTheLayersCallsOneByOne(string dtype, string? quantization)
    {
        using var dir = new TempDir();
        using var loaded = Load(dir, dtype, quantization);
        foreach (int chunk in new[] { 1, 4 })
        {
            var expected = Logits(loaded.Model, Prompts, chunk, fused: false);
            long runs = DecodeLayer.Runs;
            var actual = Logits(loaded.Model, Prompts, chunk, fused: true);
            Assert.True(DecodeLayer.Runs > runs, "the fused layer did not run");
            for (int i = 0; i < Prompts.Length; i++)
            {
                using var equal = actual[i].eq(expected[i]);
                using var all = equal.all();
                Assert.True(all.item<bool>(), $"{dtype} {quantization}: prompt {i}, chunks of {chunk}: the logits differ");
            }
            foreach (var t in expected.Concat(actual)) t.Dispose();
        }
    }

    [Theory]
    [InlineData("bfloat16", "q4_0")]
    [InlineData("float32", null)]
    public void ASequencesLogitsDoNotDependOnItsBatch(string dtype, string? quantization)
    {
        using var dir = new TempDir();
        using var loaded = Load(dir, dtype, quantization);
        var alone = Logits(loaded.Model, Prompts[..1], chunk: 1, fused: true);
        var batched = Logits(loaded.Model, Prompts, chunk: 1, fused: true);
        using var equal = batched[0].eq(alone[0]);
        using var all = equal.all();
        Assert.True(all.item<bool>(), "the first prompt's logits changed with the sequences batched beside it");
        foreach (var t in alone.Concat(batched)) t.Dispose();
    }
}
