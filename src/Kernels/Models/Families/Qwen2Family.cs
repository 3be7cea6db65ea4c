using LlmEngine.Kernels.Loading;
using LlmEngine.Kernels.Models.Decoder;

namespace LlmEngine.Kernels.Models.Families;

/// <summary>Qwen2 / Qwen2.5: LLaMA with q/k/v biases (no o bias); with use_sliding_window, the
/// layers from max_window_layers on are windowed.</summary>
internal sealed class Qwen2Family : DecoderFamily
{
    public override IReadOnlyList<string> Architectures { get; } = ["Qwen2ForCausalLM"];
    public override IReadOnlyList<string> ModelTypes { get; } = ["qwen2"];

    public override ModelConfig ReadConfig(HuggingFaceConfig c) => ReadQwen2(c, ModelArchitecture.Qwen2);

    internal static ModelConfig ReadQwen2(HuggingFaceConfig c, ModelArchitecture architecture) => DecoderConfig.Read(c, architecture) with
    {
        SlidingWindows = c.GetBool("use_sliding_window", false)
            ? DecoderConfig.SlidingWindows(c, i => i >= c.GetInt("max_window_layers", 0))
            : [],
    };

    private protected override SelfAttention Attention(ModelConfig c, int i, string p, WeightReader w) =>
        SelfAttention.ReadSeparate(c, i, w, p + "self_attn.", qkvBias: true, outputBias: false);
}
