using LlmEngine.Kernels.Attention;
using LlmEngine.Kernels.Models.Layers;
using LlmEngine.Kernels.Sharding;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Kernels.Models.Opt;

/// <summary>
/// OPT, mirroring transformers' OPTDecoder:
/// <code>
///  embed_tokens [vocab, e] -> project_in (when e != hidden) -> + embed_positions[position + 2]
///  -> decoder layers -> final_layer_norm (when present) -> project_out (when e != hidden)
///  -> head [vocab, e] (tied to embed_tokens)
/// </code>
/// A pipeline stage keeps its layers, the embeddings (and project_in) when first and the rest when last.
/// </summary>
internal sealed class OptModel : IStagedModel
{
    // OPTLearnedPositionalEmbedding keeps two extra rows in front (fairseq's padding offset).
    private const int PositionOffset = 2;

    private readonly Tensor? _tokenEmbedding, _positionEmbedding;
    private readonly LinearWeight? _head;
    private readonly Tensor? _finalNorm, _finalNormBias;
    private readonly LinearWeight? _projectIn, _projectOut;
    private readonly OptDecoderLayer[] _layers;

    public OptModel(ModelConfig config, WeightReader weights)
    {
        Config = config;
        DType = weights.DType;
        Device = weights.Device;
        Stage = weights.Stage;
        long v = config.VocabSize, d = config.HiddenSize;
        long e = config.WordEmbedProjectionSize == 0 ? d : config.WordEmbedProjectionSize;
        // OPTForCausalLM files name tensors "model.decoder.*"; OPTModel files "decoder.*".
        string p = weights.Has("decoder.embed_tokens.weight") && !weights.Has("model.decoder.embed_tokens.weight") ? "decoder." : "model.decoder.";
        if (Stage.IsFirst || (Stage.HasHead && config.TieWordEmbeddings)) _tokenEmbedding = weights.Read(p + "embed_tokens.weight", v, e);
        if (Stage.IsFirst) _positionEmbedding = weights.Read(p + "embed_positions.weight", config.MaxPositions + PositionOffset, d);
        if (e != d && Stage.IsFirst) _projectIn = weights.AsLinear(weights.Read(p + "project_in.weight", d, e));
        if (e != d && Stage.HasHead && weights.Shard.HoldsHead) _projectOut = weights.AsLinear(weights.Read(p + "project_out.weight", e, d));
        _layers = Stage.Layers(config.NumLayers).Select(i => new OptDecoderLayer(config, i, p, weights)).ToArray();
        if (!Stage.HasHead || !weights.Shard.HoldsHead) return;
        if (config.FinalLayerNorm)
        {
            _finalNorm = weights.ReadGain(p + "final_layer_norm.weight", d);
            _finalNormBias = weights.ReadBias(p + "final_layer_norm.bias", d);
        }
        _head = config.TieWordEmbeddings ? weights.Shard.TiedHead(weights, _tokenEmbedding!) : weights.Shard.Head(weights, "lm_head.weight", v, e);
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
        var x = hidden?.clone() ?? Embed(tokens, positions);
        foreach (var layer in _layers) layer.Forward(x, batch, attention);
        if (!Stage.IsLast) return x.MoveToOuterDisposeScope();
        var rows = x.index_select(0, logitRows);
        return (_head is not null ? Head(rows) : rows).MoveToOuterDisposeScope();
    }

    public Tensor Head(Tensor rows)
    {
        if (_finalNorm is not null) rows = Norms.Layer(rows, _finalNorm, _finalNormBias!, Config.NormEpsilon);
        if (_projectOut is not null) rows = Linear.Apply(rows, _projectOut);
        return Linear.Apply(rows, _head!).to(float32);
    }

    private Tensor Embed(Tensor tokens, Tensor positions)
    {
        var x = _tokenEmbedding!.index_select(0, tokens);
        if (_projectIn is not null) x = Linear.Apply(x, _projectIn);
        return x.add_(_positionEmbedding!.index_select(0, positions.add(PositionOffset)));
    }

    public void Dispose()
    {
        foreach (var layer in _layers) layer.Dispose();
        _tokenEmbedding?.Dispose();
        _positionEmbedding?.Dispose();
        _finalNorm?.Dispose();
        _finalNormBias?.Dispose();
        _projectIn?.Dispose();
        _projectOut?.Dispose();
        _head?.Dispose();
    }
}
