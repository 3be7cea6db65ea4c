using LlmEngine.Kernels.Loading;
using LlmEngine.Kernels.Loading.Gguf;
using LlmEngine.Kernels.Models.Families;
using LlmEngine.Kernels.Models.Llama;
using LlmEngine.Kernels.Native;
using LlmEngine.Kernels.Quantization;
using LlmEngine.Kernels.Sharding;
using LlmEngine.Kernels.Tokenizers;
using TorchSharp;

namespace LlmEngine.Kernels.Models;

/// <summary>
/// Builds a model from <c>--model</c>: the embedded default when none is given, a llama2.c
/// checkpoint, or a Hugging Face directory whose config.json names a supported architecture.
/// With the dummy load format the weights are seeded random values and only config.json is read.
/// </summary>
public static class ModelFactory
{
    public static IReadOnlyList<IModelFamily> Families { get; } =
    [
        new LlamaFamily(), new Gpt2.Gpt2Family(), new Opt.OptFamily(), new Qwen2Family(), new MistralFamily(), new Phi3Family(),
        new GemmaFamily(), new Gemma2Family(), new MixtralFamily(), new Qwen2MoeFamily(), new GptNeoXFamily(), new Starcoder2Family(),
        new OlmoFamily(), new Olmo2Family(),
    ];

    public static IEnumerable<string> SupportedArchitectures => Families.SelectMany(f => f.Architectures);

    /// <param name="maxModelLength">When positive, the context a GGUF model is built for instead of its
    /// file's <c>context_length</c>; other formats are capped by their config as the engine does.</param>
    /// <param name="dequantizeGguf">Decode a GGUF file's blocks into <paramref name="dtype"/> instead of
    /// computing with them on the native quantized kernels.</param>
    /// <param name="shard">The tensor-parallel rank's part to keep (null: the whole model).</param>
    /// <param name="stage">The pipeline stage's layers to keep (null: all of them).</param>
    public static LoadedModel Load(string? path, string loadFormat, torch.ScalarType dtype, torch.Device device, long seed = 0, int maxModelLength = 0,
        GgmlType? quantization = null, bool dequantizeGguf = false, TensorShard? shard = null, PipelineStage? stage = null)
    {
        shard ??= TensorShard.Whole;
        stage ??= PipelineStage.Whole;
        if (quantization is not null && (device.type != DeviceType.CPU || !NativeKernels.IsAvailable))
            throw new ModelLoadException($"--quantization needs the native CPU kernels ({(device.type != DeviceType.CPU ? $"device is {device}" : NativeKernels.UnavailableReason)})");
        if (loadFormat is not ("auto" or "dummy"))
            throw new ModelLoadException($"--load-format '{loadFormat}' is not supported (supported: auto, dummy)");
        bool dummy = loadFormat == "dummy";
        if (string.IsNullOrEmpty(path))
        {
            Check(DefaultModel.Config, DefaultModel.Name, shard, stage);
            var reader = new WeightReader(null, DefaultModel.Name, dtype, device, seed, quantization, shard: shard, stage: stage);
            var model = new LlamaModel(DefaultModel.Config, reader);
            return new LoadedModel(model, new ByteTokenizer(), DefaultModel.Name,
                "embedded default model (LLaMA-shaped, random weights, byte tokenizer)", true) { QuantizedWeights = reader.ReadBlocks };
        }
        string name = Path.GetFileName(Path.TrimEndingDirectorySeparator(path));
        if (dummy && Directory.Exists(path) && File.Exists(Path.Combine(path, HuggingFaceConfig.FileName)))
            return FromHuggingFace(path, null, null, name, dtype, device, seed, quantization, shard, stage);

        var files = ModelLocator.Resolve(path);
        if (files.Kind == ModelKind.Gguf && quantization is not null)
            throw new ModelLoadException($"{files.WeightsPath}: --quantization applies to float weights; a GGUF file keeps the types it stores");
        if (files.Kind == ModelKind.Gguf && !shard.IsWhole)
            throw new ModelLoadException($"{files.WeightsPath}: --tensor-parallel-size {shard.Size}: GGUF models are not split yet");
        if (files.Kind == ModelKind.Gguf && !stage.IsWhole)
            throw new ModelLoadException($"{files.WeightsPath}: --pipeline-parallel-size {stage.Size}: GGUF models are not split yet");
        if (files.Kind == ModelKind.Gguf)
            return GgufModels.Load(files.WeightsPath, dummy, dtype, device, seed, maxModelLength, dequantizeGguf);
        var source = WeightSources.Open(files);
        try
        {
            if (source is Llama2cCheckpoint checkpoint)
            {
                var (config, tokenizer) = Llama2cHeader(checkpoint, files);
                Check(config, checkpoint.Path, shard, stage);
                var reader = new WeightReader(dummy ? null : checkpoint, checkpoint.Path, dtype, device, seed, quantization, shard: shard, stage: stage);
                var model = new LlamaModel(config, reader);
                return new LoadedModel(model, tokenizer, name, $"llama2.c checkpoint {checkpoint.Path}", false) { QuantizedWeights = reader.ReadBlocks };
            }
            return FromHuggingFace(files.Directory, dummy ? null : source, files.TokenizerPath, name, dtype, device, seed, quantization, shard, stage);
        }
        finally
        {
            source.Dispose();
        }
    }

    private static LoadedModel FromHuggingFace(string directory, IWeightSource? source, string? tokenizerPath, string name, torch.ScalarType dtype, torch.Device device,
        long seed, GgmlType? quantization, TensorShard shard, PipelineStage stage)
    {
        var (family, config, tokenizer, configPath) = HuggingFaceHeader(directory, tokenizerPath);
        Check(config, configPath, shard, stage);
        var reader = new WeightReader(source, directory, dtype, device, seed, quantization, shard: shard, stage: stage);
        var model = family.Create(config, reader);
        string weights = source is null ? "dummy weights" : "weights";
        return new LoadedModel(model, tokenizer, name, $"{config.Architecture} from {directory} ({weights})", false) { QuantizedWeights = reader.ReadBlocks };
    }

    /// <summary>The model at <paramref name="path"/> as <see cref="Load"/> would build it, without its
    /// weights: config (with <paramref name="maxModelLength"/> as Load applies it to GGUF), tokenizer,
    /// name. Reads only headers, config and tokenizer files.</summary>
    public static ModelHeader Describe(string? path, int maxModelLength = 0)
    {
        if (string.IsNullOrEmpty(path))
            return new ModelHeader(DefaultModel.Config, new ByteTokenizer(), DefaultModel.Name, "embedded default model (byte tokenizer)", true);
        string name = Path.GetFileName(Path.TrimEndingDirectorySeparator(path));
        if (Directory.Exists(path) && File.Exists(Path.Combine(path, HuggingFaceConfig.FileName)))
        {
            var (_, config, tokenizer, configPath) = HuggingFaceHeader(path, null);
            return new ModelHeader(config, tokenizer, name, $"{config.Architecture} from {configPath}", false);
        }
        var files = ModelLocator.Resolve(path);
        if (files.Kind == ModelKind.Gguf)
        {
            using var file = GgufFile.Open(files.WeightsPath);
            var (architecture, config, tokenizer) = GgufModels.Header(file, maxModelLength);
            return new ModelHeader(config, tokenizer, Path.GetFileNameWithoutExtension(path), $"{architecture.Name} GGUF {file.Path}", false);
        }
        using var source = WeightSources.Open(files);
        if (source is Llama2cCheckpoint checkpoint)
        {
            var (config, tokenizer) = Llama2cHeader(checkpoint, files);
            return new ModelHeader(config, tokenizer, name, $"llama2.c checkpoint {checkpoint.Path}", false);
        }
        var hf = HuggingFaceHeader(files.Directory, files.TokenizerPath);
        return new ModelHeader(hf.Config, hf.Tokenizer, name, $"{hf.Config.Architecture} from {files.Directory}", false);
    }

    private static (ModelConfig Config, ITokenizer? Tokenizer) Llama2cHeader(Llama2cCheckpoint checkpoint, ModelFiles files)
    {
        var config = LlamaFamily.FromLlama2c(checkpoint.Header);
        config.Validate(checkpoint.Path);
        return (config, TokenizerLoader.Load(files.WeightsPath, config.VocabSize));
    }

    private static (IModelFamily Family, ModelConfig Config, ITokenizer? Tokenizer, string ConfigPath) HuggingFaceHeader(string directory, string? tokenizerPath)
    {
        var hf = HuggingFaceConfig.Load(directory);
        var family = FamilyOf(hf);
        var config = family.ReadConfig(hf);
        config.Validate(hf.Path);
        return (family, config, TokenizerLoader.Load(tokenizerPath ?? directory, config.VocabSize), hf.Path);
    }

    private static void Check(ModelConfig config, string source, TensorShard shard, PipelineStage stage)
    {
        shard.Check(config, source);
        stage.Check(config, source);
    }

    private static IModelFamily FamilyOf(HuggingFaceConfig hf)
    {
        var architectures = hf.Has("architectures") ? hf.Json["architectures"]!.AsArray().Select(a => a!.GetValue<string>()).ToList() : [];
        string? type = hf.GetString("model_type", null);
        var family = Families.FirstOrDefault(f => architectures.Any(f.Architectures.Contains))
            ?? Families.FirstOrDefault(f => type is not null && f.ModelTypes.Contains(type));
        if (family is not null) return family;
        string named = architectures.Count > 0 ? string.Join(", ", architectures) : type ?? "(none given)";
        throw new ModelLoadException($"{hf.Path}: architecture {named} is not supported (supported: {string.Join(", ", SupportedArchitectures)})");
    }

    /// <summary>The block type of <c>--quantization</c> (null: none).</summary>
    public static GgmlType? ParseQuantization(string? quantization) => quantization switch
    {
        null or "" or "none" => null,
        "q8_0" => GgmlType.Q8_0,
        "q4_0" => GgmlType.Q4_0,
        "q4_k" => GgmlType.Q4_K,
        "q5_k" => GgmlType.Q5_K,
        "q6_k" => GgmlType.Q6_K,
        _ => throw new ArgumentException($"--quantization '{quantization}' is not supported (supported: q8_0, q4_0, q4_k, q5_k, q6_k, none)"),
    };

    public static torch.ScalarType ParseDType(string dtype) => dtype switch
    {
        "float32" or "fp32" or "float" => torch.ScalarType.Float32,
        "bfloat16" or "bf16" => torch.ScalarType.BFloat16,
        _ => throw new ArgumentException($"--dtype '{dtype}' is not supported (supported: float32, bfloat16)"),
    };
}
