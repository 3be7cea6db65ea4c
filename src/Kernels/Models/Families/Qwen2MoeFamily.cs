using LlmEngine.Kernels.Loading;
using LlmEngine.Kernels.Models.Decoder;
using LlmEngine.Kernels.Models.Layers;

namespace LlmEngine.Kernels.Models.Families;

/// <summary>Qwen2-MoE: Qwen2 with a sparse mixture of experts (renormalised as norm_topk_prob
/// says) plus a sigmoid-gated shared expert, on every decoder_sparse_step-th layer not in
/// mlp_only_layers; the other layers keep a dense MLP.</summary>
internal sealed class Qwen2MoeFamily : DecoderFamily
{
    public override IReadOnlyList<string> Architectures { get; } = ["Qwen2MoeForCausalLM"];
    public override IReadOnlyList<string> ModelTypes { get; } = ["qwen2_moe"];

    public override ModelConfig ReadConfig(HuggingFaceConfig c)
    {
        int step = c.GetInt("decoder_sparse_step", 1);
        var mlpOnly = c.GetIntList("mlp_only_layers");
        var dense = Enumerable.Range(0, c.GetInt("num_hidden_layers")).Where(i => mlpOnly.Contains(i) || step <= 0 || (i + 1) % step != 0).ToArray();
        return Qwen2Family.ReadQwen2(c, ModelArchitecture.Qwen2Moe) with
        {
            Experts = new MixtureOfExperts(c.GetInt("num_experts"), c.GetInt("num_experts_per_tok"), c.GetInt("moe_intermediate_size"),
                c.GetBool("norm_topk_prob", false), c.GetInt("shared_expert_intermediate_size", 0)) { DenseLayers = dense },
        };
    }

    private protected override SelfAttention Attention(ModelConfig c, int i, string p, WeightReader w) =>
        SelfAttention.ReadSeparate(c, i, w, p + "self_attn.", qkvBias: true, outputBias: false);

    private protected override DecoderLayer Layer(ModelConfig c, int i, string p, WeightReader w) =>
        new(ResidualLayout.PreNorm, Attention(c, i, p, w), c.Experts!.DenseLayers.Contains(i) ? Mlp(c, p, w) : Moe(c, p, w),
            Norms(c, p, w, "input_layernorm", "post_attention_layernorm"));

    private static SparseMoe Moe(ModelConfig c, string p, WeightReader w)
    {
        var e = c.Experts!;
        long d = c.HiddenSize;
        string mlp = p + "mlp.";
        var experts = Enumerable.Range(0, e.Count).Select(j => GatedMlp.Read(w, $"{mlp}experts.{j}", d, e.IntermediateSize, c.Activation)).ToArray();
        if (e.SharedIntermediateSize == 0) return new SparseMoe(w.Read(mlp + "gate.weight", e.Count, d), experts, e);
        return new SparseMoe(w.Read(mlp + "gate.weight", e.Count, d), experts, e,
            GatedMlp.Read(w, mlp + "shared_expert", d, e.SharedIntermediateSize, c.Activation), w.Read(mlp + "shared_expert_gate.weight", 1, d));
    }
}
