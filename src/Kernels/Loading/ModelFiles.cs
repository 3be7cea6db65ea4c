namespace LlmEngine.Kernels.Loading;

internal enum ModelKind
{
    /// <summary>config.json with model.safetensors or model.safetensors.index.json.</summary>
    HuggingFace,

    /// <summary>A legacy llama2.c <c>.bin</c> checkpoint.</summary>
    Llama2c,

    /// <summary>A GGUF file (llama.cpp's format): weights, config, tokenizer and chat template in one.</summary>
    Gguf,
}

/// <summary>What <see cref="ModelLocator"/> found for a <c>--model</c> path.</summary>
/// <param name="WeightsPath">model.safetensors, model.safetensors.index.json, the .bin checkpoint, or the .gguf file.</param>
/// <param name="ConfigPath">config.json; null for llama2.c, whose header is the config.</param>
/// <param name="TokenizerPath">tokenizer.json (Hugging Face) or tokenizer.bin / tok*.bin (llama2.c), when present.</param>
internal sealed record ModelFiles(ModelKind Kind, string Directory, string WeightsPath, string? ConfigPath, string? TokenizerPath);
