namespace LlmEngine.Kernels.Models;

public enum ModelArchitecture
{
    Llama, Gpt2, Opt, Qwen2, Mistral, Phi3, Gemma, Gemma2, Mixtral, Qwen2Moe, GptNeoX, Starcoder2, Olmo, Olmo2,
}

/// <summary>How rotary embeddings pair a head's dimensions: llama2.c and Meta's original
/// checkpoints rotate adjacent pairs (2j, 2j+1); Hugging Face checkpoints rotate (j, j + d/2).</summary>
public enum RotaryStyle { None, Interleaved, HalfSplit }

/// <summary>rope_scaling of a Hugging Face config: "linear" divides positions by Factor;
/// "llama3" rescales low frequencies as Llama 3.1 does; "dynamic" NTK scaling of the base;
/// "longrope" (Phi-3) divides each frequency by its short factor while a sequence is at most
/// OriginalMaxPositions long and by its long factor beyond, and scales cos/sin by AttentionFactor.</summary>
public sealed record RopeScaling(string Type, double Factor, double LowFrequencyFactor = 1, double HighFrequencyFactor = 4, int OriginalMaxPositions = 8192)
{
    public IReadOnlyList<double> ShortFactors { get; init; } = [];
    public IReadOnlyList<double> LongFactors { get; init; } = [];
    public double AttentionFactor { get; init; } = 1;
}

/// <summary>A sparse mixture-of-experts MLP: a router picks <see cref="PerToken"/> of
/// <see cref="Count"/> gated experts per token (softmax over all, top k, renormalised to sum to 1
/// when <see cref="Renormalize"/>); an optional shared expert, sigmoid-gated, adds to every token.</summary>
public sealed record MixtureOfExperts(int Count, int PerToken, int IntermediateSize, bool Renormalize, int SharedIntermediateSize = 0)
{
    /// <summary>Layers that keep a dense MLP of the config's intermediate size (Qwen2-MoE's mlp_only_layers).</summary>
    public IReadOnlyList<int> DenseLayers { get; init; } = [];
}

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

    /// <summary>head_dim when the config sets it (Gemma: 256 with 3072 wide); else hidden / heads.</summary>
    public int HeadDimension { get; init; }
    /// <summary>Sliding window of each layer (0: global attention); empty when no layer has one.</summary>
    public IReadOnlyList<int> SlidingWindows { get; init; } = [];
    /// <summary>Gemma 2: attention scores become cap * tanh(s / cap) (0: none).</summary>
    public double AttentionSoftCap { get; init; }
    /// <summary>Gemma 2: final logits become cap * tanh(z / cap) (0: none).</summary>
    public double FinalLogitSoftCap { get; init; }
    /// <summary>Multiplier of q·k when it is not 1/sqrt(head size) (Gemma 2's query_pre_attn_scalar).</summary>
    public double? AttentionScale { get; init; }
    /// <summary>Share of each head's dimensions that rotary embeddings rotate (GPT-NeoX: 0.25).</summary>
    public double RotaryFraction { get; init; } = 1;
    public MixtureOfExperts? Experts { get; init; }
    /// <summary>GPT-NeoX: attention and MLP both read the layer's input and add to it.</summary>
    public bool ParallelResidual { get; init; }
    /// <summary>OLMo: q, k and v clamped to ±this right after the projection.</summary>
    public double? ClipQkv { get; init; }

    public int HeadSize => HeadDimension > 0 ? HeadDimension : HiddenSize / NumHeads;
    public int RotaryDimension => (int)(HeadSize * RotaryFraction);
    public double Scale => AttentionScale ?? 1.0 / Math.Sqrt(HeadSize);
    /// <summary>Phi-3 longrope: a sequence that grows past this many tokens must have its cache
    /// recomputed with the long factors, as transformers does (0: never).</summary>
    public int RecomputeAfter => RopeScaling is { Type: "longrope" } s ? s.OriginalMaxPositions : 0;
    public int WindowOf(int layer) => layer < SlidingWindows.Count ? SlidingWindows[layer] : 0;
    /// <summary>The widest window when every layer has one; 0 when any layer attends globally.</summary>
    public int WindowOfEveryLayer => SlidingWindows.Count == NumLayers && SlidingWindows.All(w => w > 0) ? SlidingWindows.Max() : 0;
    public int KvHeads => NumKvHeads == 0 ? NumHeads : NumKvHeads;
    /// <summary>Whether the MLP is gated (gate, up and down matrices) rather than plain (up and down).</summary>
    public bool HasGatedMlp => Architecture is not (ModelArchitecture.Gpt2 or ModelArchitecture.Opt or ModelArchitecture.GptNeoX or ModelArchitecture.Starcoder2);

    /// <summary>Parameters, counted from the shape (embeddings included, tied head once).</summary>
    public long ParameterCount()
    {
        long d = HiddenSize, q = (long)NumHeads * HeadSize, kv = (long)KvHeads * HeadSize;
        long attention = d * q * 2 + d * kv * 2;
        long mlp = Experts is { } e
            ? e.Count * (3L * d * e.IntermediateSize + d) + 3L * d * e.SharedIntermediateSize
            : (HasGatedMlp ? 3L : 2L) * d * IntermediateSize;
        long head = TieWordEmbeddings ? 0 : (long)VocabSize * d;
        return (long)VocabSize * d + NumLayers * (attention + mlp) + head;
    }

    public void Validate(string source)
    {
        if (HiddenSize <= 0 || NumLayers <= 0 || NumHeads <= 0 || VocabSize <= 0 || MaxPositions <= 0)
            throw new Loading.ModelLoadException($"{source}: sizes must be positive (hidden {HiddenSize}, layers {NumLayers}, heads {NumHeads}, vocab {VocabSize}, positions {MaxPositions})");
        if (HeadDimension == 0 && HiddenSize % NumHeads != 0)
            throw new Loading.ModelLoadException($"{source}: hidden size {HiddenSize} is not a multiple of {NumHeads} heads");
        if (NumHeads % KvHeads != 0)
            throw new Loading.ModelLoadException($"{source}: {NumHeads} query heads are not a multiple of {KvHeads} key/value heads");
    }
}
