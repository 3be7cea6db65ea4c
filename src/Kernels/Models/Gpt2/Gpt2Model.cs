using LlmEngine.Kernels.Attention;
using LlmEngine.Kernels.Models.Layers;
using LlmEngine.Kernels.Sharding;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Kernels.Models.Gpt2;

/// <summary>GPT-2: token plus learned position embeddings, pre-LayerNorm blocks, final
/// LayerNorm (ln_f), head tied to the token embedding unless the config unties it. A pipeline
/// stage keeps its blocks, the embeddings when first and ln_f and the head when last.</summary>
internal sealed class Gpt2Model : IStagedModel
{
    private readonly Tensor? _tokenEmbedding, _positionEmbedding, _finalNorm, _finalNormBias;
    private readonly LinearWeight? _head;
    private readonly Gpt2Block[] _blocks;

    public Gpt2Model(ModelConfig config, WeightReader weights)
    {
        Config = config;
        DType = weights.DType;
        Device = weights.Device;
        Stage = weights.Stage;
        long v = config.VocabSize, d = config.HiddenSize;
        // GPT2LMHeadModel files name tensors "transformer.*"; GPT2Model files (the original
        // gpt2 upload among them) have no prefix.
        string p = weights.Has("wte.weight") && !weights.Has("transformer.wte.weight") ? "" : "transformer.";
        if (Stage.IsFirst || (Stage.HasHead && config.TieWordEmbeddings)) _tokenEmbedding = weights.Read(p + "wte.weight", v, d);
        if (Stage.IsFirst) _positionEmbedding = weights.Read(p + "wpe.weight", config.MaxPositions, d);
        _blocks = Stage.Layers(config.NumLayers).Select(i => new Gpt2Block(config, i, p, weights)).ToArray();
        if (!Stage.HasHead || !weights.Shard.HoldsHead) return;
        _finalNorm = weights.ReadGain(p + "ln_f.weight", d);
        _finalNormBias = weights.ReadBias(p + "ln_f.bias", d);
        _head = config.TieWordEmbeddings ? weights.Shard.TiedHead(weights, _tokenEmbedding!) : weights.Shard.Head(weights, "lm_head.weight", v, d);
    }

    public ModelConfig Config { get; }
    public ScalarType DType { get; }
    public Device Device { get; }
    public PipelineStage Stage { get; }

    public Tensor Forward(Tensor tokens, Tensor positions, AttentionBatch batch, IAttentionBackend attention, Tensor logitRows) =>
        Forward(null, tokens, positions, batch, attention, logitRows);

    public Tensor Forward(Tensor? hidden, Tensor tokens, Tensor positions, AttentionBatch batch, IAttentionBackend attention, Tensor logitRows)
    {
        using var scope = NewDisposeScope();
        var x = hidden?.clone() ?? _tokenEmbedding!.index_select(0, tokens).add_(_positionEmbedding!.index_select(0, positions));
        foreach (var block in _blocks) block.Forward(x, batch, attention);
        if (!Stage.IsLast) return x.MoveToOuterDisposeScope();
        var rows = x.index_select(0, logitRows);
        return (_head is not null ? Head(rows) : rows).MoveToOuterDisposeScope();
    }

    public Tensor Head(Tensor rows) => Linear.Apply(Norms.Layer(rows, _finalNorm!, _finalNormBias!, Config.NormEpsilon), _head!).to(float32);

    public void Dispose()
    {
        foreach (var block in _blocks) block.Dispose();
        _tokenEmbedding?.Dispose();
        _positionEmbedding?.Dispose();
        _finalNorm?.Dispose();
        _finalNormBias?.Dispose();
        _head?.Dispose();
    }
}
