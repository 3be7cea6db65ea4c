using LlmEngine.Kernels.Models;
using LlmEngine.Tests.Loading;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace LlmEngine.Tests.Families;

/// <summary>
/// Config options the shared models leave at their defaults, each checked by an equivalent model:
/// GPT-2's attention scaling flags against queries scaled by the same (power of two) factor, and
/// names without the "transformer." prefix; OPT's project_in/out against identity projections
/// into a wider, zero-padded embedding, and its post-LayerNorm and final-norm options against
/// the layer written out by hand for a one-token input (where attention returns the value).
/// </summary>
public class ConfigVariantTests
{
    private static Tensor Logits(string directory, int[] tokens)
    {
        using var loaded = ModelFactory.Load(directory, "auto", ScalarType.Float32, CPU);
        return AttentionPath.Dense.PromptLogits(loaded.Model, [tokens])[0];
    }

    // Without a tolerance: the same formula in float32 with sums in other orders (libtorch's blocked GEMM
    // here, the engine's products one FMA chain per output in k order), so within a few float32 steps of the
    // largest logit: 1e-6 of its magnitude (~8 ulps at 30; the tiny OPT's logits reach ~31).
    private static void AssertClose(Tensor expected, Tensor actual, float? tolerance = null)
    {
        float error = (expected - actual).abs().max().item<float>();
        float bound = tolerance ?? 1e-6f * expected.abs().max().item<float>();
        Assert.True(error <= bound, $"max abs error {error}, bound {bound}");
        Assert.True(expected.std().item<float>() > 0.1f, "logits should vary, or the comparison proves nothing");
    }

    private static readonly int[] Tokens = TinyHfReference.Of("gpt2").Inputs[2];

    [Fact]
    public void Gpt2TensorsWithoutTheTransformerPrefixLoadToTheSameLogits()
    {
        using var dir = new TempDir();
        var renamed = TinyHfVariant.Tensors("gpt2").ToDictionary(kv => kv.Key["transformer.".Length..], kv => kv.Value);
        string folder = TinyHfVariant.Write(dir, TinyHfVariant.Config("gpt2"), renamed);
        AssertClose(Logits(SharedModels.TinyHf("gpt2"), Tokens), Logits(folder, Tokens), 0);
    }

    [Fact]
    public void Gpt2WithoutAttentionScalingEqualsQueriesScaledByOneOverSqrtHeadSize()
    {
        using var dir = new TempDir();
        var config = TinyHfVariant.Config("gpt2");
        config["scale_attn_weights"] = false;
        var tensors = TinyHfVariant.Tensors("gpt2");
        for (int l = 0; l < 2; l++) ScaleQueries(tensors, l, 0.25); // head size 16
        AssertClose(Logits(SharedModels.TinyHf("gpt2"), Tokens), Logits(TinyHfVariant.Write(dir, config, tensors), Tokens));
    }

    [Fact]
    public void Gpt2InverseLayerIndexScalingEqualsQueriesDividedByLayerNumber()
    {
        using var dir = new TempDir();
        var scaled = TinyHfVariant.Config("gpt2");
        scaled["scale_attn_by_inverse_layer_idx"] = true;
        string byFlag = TinyHfVariant.Write(dir, scaled, TinyHfVariant.Tensors("gpt2"));
        var tensors = TinyHfVariant.Tensors("gpt2");
        ScaleQueries(tensors, 1, 0.5); // layer index 1 divides by 2; layer 0 by 1
        string byWeights = TinyHfVariant.Write(dir, TinyHfVariant.Config("gpt2"), tensors);
        AssertClose(Logits(byWeights, Tokens), Logits(byFlag, Tokens));
        AssertDiffers(Logits(SharedModels.TinyHf("gpt2"), Tokens), Logits(byFlag, Tokens));
    }

    // c_attn is a Conv1D [in, 3 * hidden]: the query is its first hidden columns.
    private static void ScaleQueries(Dictionary<string, Tensor> tensors, int layer, double factor)
    {
        tensors[$"transformer.h.{layer}.attn.c_attn.weight"][.., ..64].mul_(factor);
        tensors[$"transformer.h.{layer}.attn.c_attn.bias"][..64].mul_(factor);
    }

    private static void AssertDiffers(Tensor a, Tensor b) =>
        Assert.True((a - b).abs().max().item<float>() > 1e-2f, "the option should change the logits");

    [Fact]
    public void OptProjectionsBetweenAWiderEmbeddingAndTheHiddenSizeAreApplied()
    {
        using var temporaries = torch.NewDisposeScope();
        using var dir = new TempDir();
        var config = TinyHfVariant.Config("opt");
        config["word_embed_proj_dim"] = 96;
        var tensors = TinyHfVariant.Tensors("opt");
        // [E | 0] embeds; project_in takes the first 64 columns, project_out puts the hidden
        // state back in them, so the tied head computes E h as before.
        tensors["model.decoder.embed_tokens.weight"] = cat([tensors["model.decoder.embed_tokens.weight"], zeros(512, 32)], 1);
        tensors["model.decoder.project_in.weight"] = eye(64, 96);
        tensors["model.decoder.project_out.weight"] = eye(96, 64);
        AssertClose(Logits(SharedModels.TinyHf("opt"), Tokens), Logits(TinyHfVariant.Write(dir, config, tensors), Tokens));
    }

    [Fact]
    public void OptOneTokenFormulaReproducesTransformers()
    {
        var reference = TinyHfReference.Of("opt");
        using var logits = OptOneToken(TinyHfVariant.Tensors("opt"), reference.Inputs[0].Single(), layerNormBefore: true, finalNorm: true);
        Assert.True(TinyHfReference.MaxAbsError(logits.unsqueeze(0), [reference.LastLogits[0]]) <= 1e-4f);
    }

    [Theory]
    [InlineData(false, false)] // post-LayerNorm (opt-350m): no final LayerNorm
    [InlineData(true, true)]   // pre-LayerNorm with _remove_final_layer_norm
    public void OptLayerNormPlacementFollowsTheConfig(bool layerNormBefore, bool removeFinalNorm)
    {
        using var dir = new TempDir();
        var config = TinyHfVariant.Config("opt");
        config["do_layer_norm_before"] = layerNormBefore;
        config["_remove_final_layer_norm"] = removeFinalNorm;
        var tensors = TinyHfVariant.Tensors("opt");
        // Left out of the file: loading proves the model does not read them.
        tensors.Remove("model.decoder.final_layer_norm.weight");
        tensors.Remove("model.decoder.final_layer_norm.bias");
        int token = TinyHfReference.Of("opt").Inputs[0].Single();
        using var expected = OptOneToken(tensors, token, layerNormBefore, finalNorm: false);
        AssertClose(expected.unsqueeze(0), Logits(TinyHfVariant.Write(dir, config, tensors), [token]));
    }

    // OPTDecoder for one token at position 0, written out: embed + positions[0 + 2], then per layer
    // attention (one key: the output is the value) and MLP, each with its residual and LayerNorm.
    private static Tensor OptOneToken(Dictionary<string, Tensor> w, int token, bool layerNormBefore, bool finalNorm)
    {
        using var scope = NewDisposeScope();
        Tensor W(string name) => w["model.decoder." + name];
        Tensor Norm(Tensor x, string name) => F.layer_norm(x, [64], W(name + ".weight"), W(name + ".bias"), 1e-5);
        Tensor Linear(Tensor x, string name) => F.linear(x, W(name + ".weight"), W(name + ".bias"));
        var x = W("embed_tokens.weight")[token] + W("embed_positions.weight")[2];
        for (int l = 0; l < 2; l++)
        {
            string p = $"layers.{l}.";
            var h = layerNormBefore ? Norm(x, p + "self_attn_layer_norm") : x;
            x = x + Linear(Linear(h, p + "self_attn.v_proj"), p + "self_attn.out_proj");
            if (!layerNormBefore) x = Norm(x, p + "self_attn_layer_norm");
            h = layerNormBefore ? Norm(x, p + "final_layer_norm") : x;
            x = x + Linear(F.relu(Linear(h, p + "fc1")), p + "fc2");
            if (!layerNormBefore) x = Norm(x, p + "final_layer_norm");
        }
        if (finalNorm) x = Norm(x, "final_layer_norm");
        return F.linear(x, W("embed_tokens.weight")).MoveToOuterDisposeScope();
    }
}
