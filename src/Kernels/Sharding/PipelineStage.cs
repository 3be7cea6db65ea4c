using LlmEngine.Kernels.Loading;
using LlmEngine.Kernels.Models;

namespace LlmEngine.Kernels.Sharding;

/// <summary>
/// The contiguous range of decoder layers one pipeline stage owns, with the KV cache of those
/// layers only. The first stage also embeds the tokens; the last also applies the final norm and
/// the LM head, so only it produces logits. Stages in between pass the hidden states [tokens,
/// hidden] on. Layers are split as evenly as they go; the first stages take the remainder, since
/// the last one also computes the LM head. <see cref="Whole"/> is the unsplit model.
/// With <see cref="HeadOnFirst"/> (stages on worker nodes, where the head node samples) the first
/// stage holds the final norm and the LM head instead, and the last returns the hidden states of
/// the rows to sample: hidden values per row cross back to the head instead of vocabulary-sized logits.
/// </summary>
public sealed record PipelineStage(int Index, int Size)
{
    public static PipelineStage Whole { get; } = new(0, 1);

    public bool IsWhole => Size == 1;
    public bool IsFirst => Index == 0;
    public bool IsLast => Index == Size - 1;

    /// <summary>The final norm and the LM head belong to the first stage, not the last.</summary>
    public bool HeadOnFirst { get; init; }

    /// <summary>Whether this stage holds the final norm and the LM head.</summary>
    public bool HasHead => HeadOnFirst ? IsFirst : IsLast;

    /// <summary>Stage <paramref name="index"/> of <paramref name="size"/>.</summary>
    public static PipelineStage Of(int index, int size) =>
        size < 1 || index < 0 || index >= size ? throw new ArgumentOutOfRangeException(nameof(index), $"stage {index} of {size}")
        : size == 1 ? Whole : new PipelineStage(index, size);

    /// <summary>The first layer and the number of layers this stage owns in a model of <paramref name="layers"/> layers.</summary>
    public (int First, int Count) LayersOf(int layers)
    {
        int each = layers / Size, extra = layers % Size;
        return (Index * each + Math.Min(Index, extra), each + (Index < extra ? 1 : 0));
    }

    /// <summary>The indices of the layers this stage builds.</summary>
    public IEnumerable<int> Layers(int layers) => Enumerable.Range(LayersOf(layers).First, LayersOf(layers).Count);

    /// <summary>Why <paramref name="config"/> cannot be split into <paramref name="size"/> stages, or null when it can.</summary>
    public static string? Problem(ModelConfig config, int size)
    {
        if (size == 1) return null;
        if (config.Architecture is not (ModelArchitecture.Llama or ModelArchitecture.Gpt2 or ModelArchitecture.Opt))
            return $"pipeline parallelism splits the LLaMA, GPT-2 and OPT families; {config.Architecture} is not split yet";
        if (config.NumLayers < size) return $"{config.NumLayers} layers cannot be split into {size} stages";
        return null;
    }

    public void Check(ModelConfig config, string source)
    {
        if (Problem(config, Size) is { } problem) throw new ModelLoadException($"{source}: --pipeline-parallel-size {Size}: {problem}");
    }
}
