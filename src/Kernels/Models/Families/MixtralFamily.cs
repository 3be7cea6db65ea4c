using LlmEngine.Kernels.Loading;
using LlmEngine.Kernels.Models.Decoder;
using LlmEngine.Kernels.Models.Layers;

namespace LlmEngine.Kernels.Models.Families;

/// <summary>Mixtral: Mistral with a sparse mixture of experts (w1 = gate, w3 = up, w2 = down),
/// top-k renormalised.</summary>
internal sealed class MixtralFamily : DecoderFamily
{
    public override IReadOnlyList<string> Architectures { get; } = ["MixtralForCausalLM"];
    public override IReadOnlyList<string> ModelTypes { get; } = ["mixtral"];

    public override ModelConfig ReadConfig(HuggingFaceConfig c) => DecoderConfig.Read(c, ModelArchitecture.Mixtral) with
    {
        SlidingWindows = DecoderConfig.SlidingWindows(c, _ => true),
        Experts = new MixtureOfExperts(c.GetInt("num_local_experts"), c.GetInt("num_experts_per_tok"), c.GetInt("intermediate_size"), Renormalize: true),
    };

    private protected override IFeedForward Mlp(ModelConfig c, string p, WeightReader w)
    {
        var e = c.Experts!;
        string moe = p + "block_sparse_moe.";
        return new SparseMoe(w.Read(moe + "gate.weight", e.Count, c.HiddenSize),
            Enumerable.Range(0, e.Count).Select(j => GatedMlp.Read(w, $"{moe}experts.{j}", c.HiddenSize, e.IntermediateSize, c.Activation, "w1", "w3", "w2")).ToArray(),
            e);
    }
}
