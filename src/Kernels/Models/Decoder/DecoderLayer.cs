using LlmEngine.Kernels.Attention;
using LlmEngine.Kernels.Models.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Kernels.Models.Decoder;

/// <summary>Where a decoder layer's norms sit around its two blocks.</summary>
internal enum ResidualLayout
{
    /// <summary>x += attn(n1 x); x += mlp(n2 x) (LLaMA and most).</summary>
    PreNorm,
    /// <summary>x += n2 attn(n1 x); x += n4 mlp(n3 x) (Gemma 2: norms before and after each block).</summary>
    Sandwich,
    /// <summary>x += n1 attn(x); x += n2 mlp(x) (OLMo 2: norms on each block's output).</summary>
    PostNorm,
    /// <summary>x += attn(n1 x) + mlp(n2 x), both from the same x (GPT-NeoX's parallel residual).</summary>
    Parallel,
}

/// <summary>One decoder layer: attention and MLP with their norms in the family's layout. The
/// norms are given in the order they apply; a layout takes two (four for Sandwich); OLMo's
/// parameterless norms still count.</summary>
internal sealed class DecoderLayer(ResidualLayout layout, SelfAttention attention, IFeedForward mlp, params Norm[] norms) : IDisposable
{
    /// <summary>Updates the residual stream x [tokens, hidden] in place.</summary>
    public void Forward(Tensor x, RotaryEmbedding rotary, Tensor cos, Tensor sin, AttentionBatch batch, IAttentionBackend backend)
    {
        using var scope = NewDisposeScope();
        switch (layout)
        {
            case ResidualLayout.PreNorm:
                var attentionOut = attention.Forward(norms[0].Apply(x), rotary, cos, sin, batch, backend);
                x.add_(mlp.Forward(norms[1].AddThenApply(x, attentionOut)));
                break;
            case ResidualLayout.Sandwich:
                x.add_(norms[1].Apply(attention.Forward(norms[0].Apply(x), rotary, cos, sin, batch, backend)));
                x.add_(norms[3].Apply(mlp.Forward(norms[2].Apply(x))));
                break;
            case ResidualLayout.PostNorm:
                x.add_(norms[0].Apply(attention.Forward(x, rotary, cos, sin, batch, backend)));
                x.add_(norms[1].Apply(mlp.Forward(x)));
                break;
            case ResidualLayout.Parallel:
                var attended = attention.Forward(norms[0].Apply(x), rotary, cos, sin, batch, backend);
                x.add_(mlp.Forward(norms[1].Apply(x))).add_(attended);
                break;
        }
    }

    public void Dispose()
    {
        attention.Dispose();
        mlp.Dispose();
        foreach (var n in norms) n.Dispose();
    }
}
