using LlmEngine.Kernels.Attention;
using LlmEngine.Kernels.Models.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Kernels.Models.Decoder;

/// <summary>Tensor names of a decoder that differ between families (the Hugging Face layout
/// "model.embed_tokens", "model.layers.{i}.", "model.norm", "lm_head" unless said otherwise).</summary>
internal sealed record DecoderNames(string Embedding = "model.embed_tokens.weight", string Layers = "model.layers.",
    string FinalNorm = "model.norm", string Head = "lm_head.weight")
{
    public static readonly DecoderNames HuggingFace = new();
    public string Layer(int index) => $"{Layers}{index}.";
}

/// <summary>
/// A decoder-only transformer assembled from shared layers: token embedding (times sqrt(hidden)
/// for Gemma), the family's decoder layers, final norm, tied or separate head, final logits
/// soft-capped when the config says so (Gemma 2). Each family file says only what differs.
/// </summary>
internal sealed class DecoderModel : ICausalLanguageModel
{
    private readonly Tensor _embedding;
    private readonly LinearWeight _head;
    private readonly double _embeddingScale;
    private readonly DecoderLayer[] _layers;
    private readonly Norm _finalNorm;
    private readonly RotaryEmbedding _rotary;

    /// <param name="layer">builds layer i from the weights under its name prefix</param>
    public DecoderModel(ModelConfig config, WeightReader weights, DecoderNames names, NormKind finalNorm,
        Func<int, string, DecoderLayer> layer, bool scaleEmbedding = false)
    {
        Config = config;
        DType = weights.DType;
        Device = weights.Device;
        long v = config.VocabSize, d = config.HiddenSize;
        _embedding = weights.Read(names.Embedding, v, d);
        // Gemma multiplies by sqrt(hidden) rounded to the model's dtype, as transformers does.
        _embeddingScale = scaleEmbedding ? Math.Sqrt(d) : 1;
        _layers = Enumerable.Range(0, config.NumLayers).Select(i => layer(i, names.Layer(i))).ToArray();
        _finalNorm = Norm.Read(weights, names.FinalNorm, d, finalNorm, config.NormEpsilon);
        _head = config.TieWordEmbeddings ? weights.TiedHead(_embedding, names.Embedding) : weights.ReadLinear(names.Head, v, d);
        _rotary = new RotaryEmbedding(config.RotaryDimension, config.MaxPositions, config.RopeTheta, RotaryStyle.HalfSplit, config.RopeScaling, Device);
    }

    public ModelConfig Config { get; }
    public ScalarType DType { get; }
    public Device Device { get; }

    public Tensor Forward(Tensor tokens, Tensor positions, AttentionBatch batch, IAttentionBackend attention, Tensor logitRows)
    {
        using var scope = NewDisposeScope();
        var x = _embedding.index_select(0, tokens);
        if (_embeddingScale != 1) x.mul_(tensor(_embeddingScale, dtype: DType, device: Device));
        var (cos, sin) = _rotary.For(positions, batch);
        foreach (var layer in _layers) layer.Forward(x, _rotary, cos, sin, batch, attention);
        var logits = Linear.Apply(_finalNorm.Apply(x.index_select(0, logitRows)), _head).to(float32);
        return CausalAttention.SoftCap(logits, Config.FinalLogitSoftCap).MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        foreach (var layer in _layers) layer.Dispose();
        _embedding.Dispose();
        _finalNorm.Dispose();
        _head.Dispose();
        _rotary.Dispose();
    }
}
