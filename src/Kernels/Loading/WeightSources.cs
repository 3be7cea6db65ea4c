namespace LlmEngine.Kernels.Loading;

/// <summary>Opens the weight source that matches what <see cref="ModelLocator"/> found.</summary>
internal static class WeightSources
{
    public static IWeightSource Open(ModelFiles files) => files.Kind switch
    {
        ModelKind.Llama2c => new Llama2cCheckpoint(files.WeightsPath),
        ModelKind.Gguf => Gguf.GgufWeightSource.Open(files.WeightsPath),
        ModelKind.HuggingFace when files.WeightsPath.EndsWith(".index.json", StringComparison.Ordinal) => new ShardedSafetensors(files.WeightsPath),
        ModelKind.HuggingFace => new SafetensorsFile(files.WeightsPath),
        _ => throw new ArgumentOutOfRangeException(nameof(files), files.Kind, "unknown model kind"),
    };
}
