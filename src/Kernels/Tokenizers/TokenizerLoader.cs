namespace LlmEngine.Kernels.Tokenizers;

/// <summary>Finds the tokenizer that belongs to a model: Hugging Face's tokenizer.json in the
/// model directory, else a llama2.c tokenizer beside the checkpoint.</summary>
internal static class TokenizerLoader
{
    /// <summary>The tokenizer for the model at <paramref name="modelPath"/> (a directory or a
    /// checkpoint file), or null when there is none: such models are driven by token ids.
    /// <paramref name="vocabSize"/> is the model's, which llama2.c tokenizer files do not store.</summary>
    public static ITokenizer? Load(string modelPath, int vocabSize)
    {
        string? directory = Directory.Exists(modelPath) ? modelPath
            : File.Exists(modelPath) ? Path.GetDirectoryName(Path.GetFullPath(modelPath))
            : null;
        if (directory is null)
            return null;
        if (File.Exists(Path.Combine(directory, "tokenizer.json")))
            return HuggingFaceTokenizer.Load(directory);
        return Llama2cFile(directory, modelPath) is { } file ? Llama2cTokenizer.Load(file, vocabSize) : null;
    }

    /// <summary>tokenizer.bin (llama2.c's 32000-token LLaMA vocabulary), else tok512.bin, else
    /// the first other tok*.bin by name (custom vocabularies are exported as tokN.bin).</summary>
    private static string? Llama2cFile(string directory, string modelPath)
    {
        string model = Path.GetFullPath(modelPath);
        return new[] { "tokenizer.bin", "tok512.bin" }.Select(name => Path.Combine(directory, name)).Where(File.Exists)
            .Concat(Directory.EnumerateFiles(directory, "tok*.bin").Order(StringComparer.Ordinal))
            .FirstOrDefault(path => Path.GetFullPath(path) != model);
    }
}
