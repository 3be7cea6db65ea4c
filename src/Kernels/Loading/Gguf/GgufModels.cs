using LlmEngine.Kernels.Models;
using LlmEngine.Kernels.Tokenizers;
using TorchSharp;

namespace LlmEngine.Kernels.Loading.Gguf;

/// <summary>Builds a model, its tokenizer and its chat template from one GGUF file.</summary>
internal static class GgufModels
{
    /// <param name="maxModelLength">When positive, the context to build for, instead of the file's
    /// <c>context_length</c> (llama.cpp's converter writes 128 for llama2.c models trained on 512).</param>
    /// <param name="dequantize">Decode every block into <paramref name="dtype"/>; otherwise linear layers
    /// whose type the native quantized kernel takes compute on the blocks as stored (memory-mapped).</param>
    public static LoadedModel Load(string path, bool dummy, torch.ScalarType dtype, torch.Device device, long seed, int maxModelLength, bool dequantize = false)
    {
        using var file = GgufFile.Open(path);
        var (architecture, config, tokenizer) = Header(file, maxModelLength);
        // Decoded tensors are copied into the model's; blocks kept as views hold the mapping open.
        var source = new GgufWeightSource(file, architecture.Tensors(config, file));
        var reader = new WeightReader(dummy ? null : source, file.Path, dtype, device, seed, dequantize: dequantize);
        var model = architecture.Create(config, reader);
        string name = Path.GetFileNameWithoutExtension(path);
        string weights = dummy ? "dummy weights" : string.Join(", ", file.Tensors.Values.GroupBy(t => t.Type).Select(g => $"{g.Count()} {Quantization.GgmlTypeInfo.Describe(g.Key)}"));
        return new LoadedModel(model, tokenizer, name, $"{architecture.Name} GGUF {file.Path} ({weights})", false)
        {
            ChatTemplate = file.Metadata.StringOrNull("tokenizer.chat_template"),
            QuantizedWeights = reader.ReadBlocks,
        };
    }

    /// <summary>The file's architecture, config and tokenizer, checked against each other (no weights read).</summary>
    public static (IGgufArchitecture Architecture, ModelConfig Config, ITokenizer? Tokenizer) Header(GgufFile file, int maxModelLength)
    {
        var architecture = GgufArchitectures.Of(file);
        var tokenizer = GgufTokenizer.Load(file);
        var config = architecture.ReadConfig(file) with
        {
            BosTokenId = tokenizer?.BosTokenId,
            EosTokenIds = GgufTokenizer.EndOfGenerationIds(file),
        };
        if (maxModelLength > 0) config = config with { MaxPositions = maxModelLength };
        config.Validate(file.Path);
        if (tokenizer is not null && tokenizer.VocabSize > config.VocabSize)
            throw new ModelLoadException($"{file.Path}: the tokenizer has {tokenizer.VocabSize} tokens but token_embd.weight only {config.VocabSize} rows");
        return (architecture, config, tokenizer);
    }
}
