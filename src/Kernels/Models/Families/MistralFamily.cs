using LlmEngine.Kernels.Loading;
using LlmEngine.Kernels.Models.Decoder;

namespace LlmEngine.Kernels.Models.Families;

/// <summary>Mistral: LLaMA with sliding_window on every layer.</summary>
internal sealed class MistralFamily : DecoderFamily
{
    public override IReadOnlyList<string> Architectures { get; } = ["MistralForCausalLM"];
    public override IReadOnlyList<string> ModelTypes { get; } = ["mistral"];

    public override ModelConfig ReadConfig(HuggingFaceConfig c) => DecoderConfig.Read(c, ModelArchitecture.Mistral) with
    {
        SlidingWindows = DecoderConfig.SlidingWindows(c, _ => true),
    };
}
