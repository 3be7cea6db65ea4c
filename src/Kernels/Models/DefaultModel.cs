namespace LlmEngine.Kernels.Models;

/// <summary>
/// The model used when none is given: LLaMA-shaped (grouped-query attention, SwiGLU, half-split
/// rotary) with deterministic random weights and the byte tokenizer, small enough to start in
/// a second. Its output is gibberish by design; it exists so every command always runs.
/// </summary>
internal static class DefaultModel
{
    public const string Name = "default";

    public static ModelConfig Config { get; } = new()
    {
        Architecture = ModelArchitecture.Llama,
        VocabSize = 259,
        HiddenSize = 256,
        NumLayers = 4,
        NumHeads = 8,
        NumKvHeads = 4,
        IntermediateSize = 688,
        MaxPositions = 2048,
        Rotary = RotaryStyle.HalfSplit,
        TieWordEmbeddings = true,
        BosTokenId = 1,
        EosTokenIds = [2],
    };
}
