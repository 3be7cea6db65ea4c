namespace LlmEngine.Kernels.Models;

public enum ModelArchitecture { Llama, Gpt2, Opt }

/// <summary>How rotary embeddings pair a head's dimensions: llama2.c and Meta's original
/// checkpoints rotate adjacent pairs (2j, 2j+1); Hugging Face checkpoints rotate (j, j + d/2).</summary>
public enum RotaryStyle { None, Interleaved, HalfSplit }

/// <summary>rope_scaling of a Hugging Face config: "linear" divides positions by Factor;
/// "llama3" rescales low frequencies as Llama 3.1 does; "dynamic" NTK scaling of the base.</summary>
public sealed record RopeScaling(string Type, double Factor, double LowFrequencyFactor = 1, double HighFrequencyFactor = 4, int OriginalMaxPositions = 8192);

/// <summary>The shape and conventions of a causal language model, whatever file it came from.</summary>
public sealed record ModelConfig
{
    public required ModelArchitecture Architecture { get; init; }
    public required int VocabSize { get; init; }
    public required int HiddenSize { get; init; }
    public required int NumLayers { get; init; }
    public required int NumHeads { get; init; }
    public int NumKvHeads { get; init; }
    public required int IntermediateSize { get; init; }
    public required int MaxPositions { get; init; }
    public double NormEpsilon { get; init; } = 1e-5;
    public double RopeTheta { get; init; } = 10000;
    public RotaryStyle Rotary { get; init; } = RotaryStyle.None;
    public RopeScaling? RopeScaling { get; init; }
    public bool TieWordEmbeddings { get; init; }
    public bool AttentionBias { get; init; }
    public bool MlpBias { get; init; }
    /// <summary>GPT-2: divide scores by sqrt(head size) (scale_attn_weights) and by layer index + 1.</summary>
    public bool ScaleAttentionWeights { get; init; } = true;
    public bool ScaleAttentionByInverseLayerIndex { get; init; }
    /// <summary>OPT: pre-LayerNorm blocks when true, post-LayerNorm otherwise.</summary>
    public bool LayerNormBefore { get; init; } = true;
    /// <summary>OPT: a LayerNorm after the last block (absent in post-LayerNorm models and when
    /// _remove_final_layer_norm is set).</summary>
    public bool FinalLayerNorm { get; init; } = true;
    /// <summary>OPT: embedding width when it differs from the hidden size (project_in/out).</summary>
    public int WordEmbedProjectionSize { get; init; }
    public string Activation { get; init; } = "silu";
    public int? BosTokenId { get; init; }
    public IReadOnlyList<int> EosTokenIds { get; init; } = [];

    public int HeadSize => HiddenSize / NumHeads;
    public int KvHeads => NumKvHeads == 0 ? NumHeads : NumKvHeads;

    /// <summary>Parameters, counted from the shape (embeddings included, tied head once).</summary>
    public long ParameterCount()
    {
        long d = HiddenSize, kv = (long)KvHeads * HeadSize;
        long attention = d * d * 2 + d * kv * 2;
        long mlp = Architecture == ModelArchitecture.Llama ? 3L * d * IntermediateSize : 2L * d * IntermediateSize;
        long head = TieWordEmbeddings ? 0 : (long)VocabSize * d;
        return (long)VocabSize * d + NumLayers * (attention + mlp) + head;
    }

    public void Validate(string source)
    {
        if (HiddenSize <= 0 || NumLayers <= 0 || NumHeads <= 0 || VocabSize <= 0 || MaxPositions <= 0)
            throw new Loading.ModelLoadException($"{source}: sizes must be positive (hidden {HiddenSize}, layers {NumLayers}, heads {NumHeads}, vocab {VocabSize}, positions {MaxPositions})");
        if (HiddenSize % NumHeads != 0)
            throw new Loading.ModelLoadException($"{source}: hidden size {HiddenSize} is not a multiple of {NumHeads} heads");
        if (NumHeads % KvHeads != 0)
            throw new Loading.ModelLoadException($"{source}: {NumHeads} query heads are not a multiple of {KvHeads} key/value heads");
    }
}
