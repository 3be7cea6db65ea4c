using System.Text.RegularExpressions;

namespace LlmEngine.Kernels.Loading;

/// <summary>
/// Works out what a <c>--model</c> path holds:
/// <list type="bullet">
/// <item>a Hugging Face directory: config.json + model.safetensors (preferred, as transformers
/// does) or model.safetensors.index.json;</item>
/// <item>a directory with one llama2.c checkpoint <c>*.bin</c> beside its tokenizer;</item>
/// <item>the path of a llama2.c <c>.bin</c> itself;</item>
/// <item>a GGUF file, or a directory holding exactly one <c>*.gguf</c> and no config.json or checkpoint.</item>
/// </list>
/// </summary>
internal static partial class ModelLocator
{
    public const string SafetensorsName = "model.safetensors";
    public const string SafetensorsIndexName = "model.safetensors.index.json";

    public static ModelFiles Resolve(string path)
    {
        string full = Path.GetFullPath(path);
        if (File.Exists(full))
        {
            if (full.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase))
                return Gguf(full);
            if (!full.EndsWith(".bin", StringComparison.OrdinalIgnoreCase))
                throw new ModelLoadException($"{path}: expected a model directory, a llama2.c .bin checkpoint or a .gguf file");
            string directory = Path.GetDirectoryName(full)!;
            return new ModelFiles(ModelKind.Llama2c, directory, full, null, Llama2cTokenizer(directory));
        }
        if (!Directory.Exists(full))
            throw new ModelLoadException($"{path}: no such file or directory");
        string config = Path.Combine(full, HuggingFaceConfig.FileName);
        return File.Exists(config) ? HuggingFace(path, full, config) : Llama2c(path, full);
    }

    private static ModelFiles HuggingFace(string path, string directory, string config)
    {
        string? weights = new[] { SafetensorsName, SafetensorsIndexName }
            .Select(name => Path.Combine(directory, name))
            .FirstOrDefault(File.Exists);
        if (weights is null)
        {
            string hint = File.Exists(Path.Combine(directory, "pytorch_model.bin"))
                ? "; pytorch_model.bin is not supported, convert it to safetensors"
                : "";
            throw new ModelLoadException($"{path}: has config.json but neither {SafetensorsName} nor {SafetensorsIndexName}{hint}");
        }
        string tokenizer = Path.Combine(directory, "tokenizer.json");
        return new ModelFiles(ModelKind.HuggingFace, directory, weights, config, File.Exists(tokenizer) ? tokenizer : null);
    }

    private static ModelFiles Llama2c(string path, string directory)
    {
        var checkpoints = Directory.EnumerateFiles(directory, "*.bin")
            .Where(file => !IsLlama2cTokenizer(Path.GetFileName(file)))
            .Order(StringComparer.Ordinal)
            .ToList();
        var ggufs = Directory.EnumerateFiles(directory, "*.gguf").Order(StringComparer.Ordinal).ToList();
        if (checkpoints.Count == 0 && ggufs.Count > 1)
            throw new ModelLoadException($"{path}: holds several GGUF files ({string.Join(", ", ggufs.Select(Path.GetFileName))}); pass one .gguf file");
        return checkpoints.Count switch
        {
            1 => new ModelFiles(ModelKind.Llama2c, directory, checkpoints[0], null, Llama2cTokenizer(directory)),
            0 when ggufs.Count == 1 => Gguf(ggufs[0]),
            0 => throw new ModelLoadException($"{path}: neither a Hugging Face model (config.json + {SafetensorsName}), a llama2.c checkpoint (*.bin) nor a GGUF file"),
            _ => throw new ModelLoadException($"{path}: holds several llama2.c checkpoints ({string.Join(", ", checkpoints.Select(Path.GetFileName))}); pass one .bin file"),
        };
    }

    /// <summary>A GGUF file carries its own config and tokenizer.</summary>
    private static ModelFiles Gguf(string file) => new(ModelKind.Gguf, Path.GetDirectoryName(file)!, file, null, file);

    /// <summary>tokenizer.bin, else the only tok*.bin (llama2.c names them by vocabulary size,
    /// e.g. tok512.bin); null when there is none or the choice is ambiguous.</summary>
    private static string? Llama2cTokenizer(string directory)
    {
        string standard = Path.Combine(directory, "tokenizer.bin");
        if (File.Exists(standard)) return standard;
        var sized = Directory.EnumerateFiles(directory, "tok*.bin")
            .Where(file => IsLlama2cTokenizer(Path.GetFileName(file)))
            .ToList();
        return sized.Count == 1 ? sized[0] : null;
    }

    private static bool IsLlama2cTokenizer(string fileName) => TokenizerName().IsMatch(fileName);

    [GeneratedRegex(@"^(tokenizer|tok\d+)\.bin$")]
    private static partial Regex TokenizerName();
}
