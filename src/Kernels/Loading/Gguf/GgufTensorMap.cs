namespace LlmEngine.Kernels.Loading.Gguf;

/// <summary>Where a Hugging Face-named weight lies in a GGUF file, and whether its rows were permuted by
/// llama.cpp's converter for ggml's interleaved rotary layout (Q and K of LLaMA-style models).</summary>
/// <param name="RotaryHeads">Heads whose rows to un-permute (query heads for Q, key/value heads for K); 0 for none.</param>
internal sealed record GgufTensorRef(string GgufName, int RotaryHeads = 0);

/// <summary>One GGUF <c>general.architecture</c>: the engine's config from the file's metadata, and
/// the GGUF tensor behind each Hugging Face weight name the engine's model reads.</summary>
internal interface IGgufArchitecture
{
    /// <summary>The value of <c>general.architecture</c>.</summary>
    string Name { get; }

    Models.ModelConfig ReadConfig(GgufFile file);

    IReadOnlyDictionary<string, GgufTensorRef> Tensors(Models.ModelConfig config, GgufFile file);

    Models.ICausalLanguageModel Create(Models.ModelConfig config, Models.WeightReader weights);
}
