namespace LlmEngine.Kernels.Loading.Gguf;

/// <summary>The GGUF architectures this engine runs, by <c>general.architecture</c>.</summary>
internal static class GgufArchitectures
{
    public static IReadOnlyList<IGgufArchitecture> All { get; } = [new GgufLlamaArchitecture()];

    public static IGgufArchitecture Of(GgufFile file)
    {
        string name = file.Metadata.String("general.architecture");
        return All.FirstOrDefault(a => a.Name == name)
            ?? throw new ModelLoadException($"{file.Path}: GGUF architecture '{name}' is not supported (supported: {string.Join(", ", All.Select(a => a.Name))})");
    }
}
