using LlmEngine.Kernels.Attention;
using LlmEngine.Kernels.Models.Layers;
using LlmEngine.Kernels.Sharding;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Kernels.Models.Llama;

/// <summary>The LLaMA family (LLaMA 1-3, llama2.c checkpoints, Mistral-style GQA): token
/// embedding, decoder layers, final RMSNorm, tied or separate output head. A tensor-parallel
/// rank's model returns the logits of its slice of the vocabulary; a pipeline stage's model holds
/// its layers, the embedding when first and the final norm and head when last.</summary>
internal sealed class LlamaModel : IStagedModel
{
    private readonly Tensor? _embedding, _finalNorm;
    private readonly LinearWeight? _head;
    private readonly LlamaDecoderLayer[] _layers;
    private readonly RotaryEmbedding _rotary;

    public LlamaModel(ModelConfig config, WeightReader weights)
    {
        Config = config;
        DType = weights.DType;
        Device = weights.Device;
        Stage = weights.Stage;
        long v = config.VocabSize, d = config.HiddenSize;
        if (Stage.IsFirst || (Stage.HasHead && config.TieWordEmbeddings)) _embedding = weights.Read("model.embed_tokens.weight", v, d);
        _layers = Stage.Layers(config.NumLayers).Select(i => new LlamaDecoderLayer(config, i, weights)).ToArray();
        if (Stage.HasHead && weights.Shard.HoldsHead)
        {
            _finalNorm = weights.ReadGain("model.norm.weight", d);
            _head = weights.Shard.SplitsHead ? (config.TieWordEmbeddings ? weights.Shard.TiedHead(weights, _embedding!) : weights.Shard.Head(weights, "lm_head.weight", v, d))
                : config.TieWordEmbeddings ? weights.TiedHead(_embedding!, "model.embed_tokens.weight") : weights.ReadLinear("lm_head.weight", v, d);
        }
        _rotary = new RotaryEmbedding(config.HeadSize, config.MaxPositions, config.RopeTheta,
            config.Rotary == RotaryStyle.None ? RotaryStyle.HalfSplit : config.Rotary, config.RopeScaling, Device);
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
        var x = hidden?.clone() ?? _embedding!.index_select(0, tokens);
        var (cos, sin) = _rotary.For(positions, batch);
        foreach (var layer in _layers) layer.Forward(x, _rotary, cos, sin, batch, attention);
        if (!Stage.IsLast) return x.MoveToOuterDisposeScope();
        var rows = x.index_select(0, logitRows);
        return (_head is not null ? Head(rows) : rows).MoveToOuterDisposeScope();
    }

    public Tensor Head(Tensor rows) => Linear.Apply(Norms.Rms(rows, _finalNorm!, Config.NormEpsilon), _head!).to(float32);

    public void Dispose()
    {
        foreach (var layer in _layers) layer.Dispose();
        _embedding?.Dispose();
        _finalNorm?.Dispose();
        _head?.Dispose();
        _rotary.Dispose();
    }
}
