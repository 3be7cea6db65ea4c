using LlmEngine.Kernels.Loading;
using LlmEngine.Kernels.Models.Decoder;
using LlmEngine.Kernels.Models.Layers;

namespace LlmEngine.Kernels.Models.Families;

/// <summary>Phi-3 / Phi-4-mini: LLaMA with fused qkv_proj ([q | k | v] rows) and gate_up_proj
/// ([gate | up] rows), longrope scaling, sliding_window on every layer when set.</summary>
internal sealed class Phi3Family : DecoderFamily
{
    public override IReadOnlyList<string> Architectures { get; } = ["Phi3ForCausalLM"];
    public override IReadOnlyList<string> ModelTypes { get; } = ["phi3"];

    public override ModelConfig ReadConfig(HuggingFaceConfig c) => DecoderConfig.Read(c, ModelArchitecture.Phi3) with
    {
        NormEpsilon = c.GetDouble("rms_norm_eps", 1e-5),
        SlidingWindows = DecoderConfig.SlidingWindows(c, _ => true),
    };

    private protected override SelfAttention Attention(ModelConfig c, int i, string p, WeightReader w)
    {
        long d = c.HiddenSize;
        return new(c, i, w.ReadLinear(p + "self_attn.qkv_proj.weight", SelfAttention.FusedRows(c), d), null,
            w.ReadLinear(p + "self_attn.o_proj.weight", d, c.NumHeads * c.HeadSize), null);
    }

    private protected override IFeedForward Mlp(ModelConfig c, string p, WeightReader w) =>
        new GatedMlp(w.ReadLinear(p + "mlp.gate_up_proj.weight", 2L * c.IntermediateSize, c.HiddenSize),
            w.ReadLinear(p + "mlp.down_proj.weight", c.HiddenSize, c.IntermediateSize), c.Activation);
}
