using System.CommandLine;
using LlmEngine.Actors.Engine;

namespace LlmEngine.Host.Cli;

/// <summary>The engine options every command that runs a model accepts, and their binding to
/// <see cref="EngineOptions"/>.</summary>
public sealed class EngineOptionSet
{
    public Option<string?> Model { get; } = new("--model") { Description = "Hugging Face model directory, directory with a llama2.c checkpoint, or .bin path (default: the embedded random model)" };
    public Option<string?> ServedModelName { get; } = new("--served-model-name") { Description = "Model name announced by the server" };
    public Option<string> LoadFormat { get; } = new("--load-format") { Description = "auto (real weights) or dummy (seeded random weights from config.json)", DefaultValueFactory = _ => "auto" };
    public Option<string> DType { get; } = new("--dtype") { Description = "float32 or bfloat16", DefaultValueFactory = _ => "float32" };
    public Option<string> Device { get; } = new("--device") { Description = "cpu or cuda:N", DefaultValueFactory = _ => "cpu" };
    public Option<int> BlockSize { get; } = new("--block-size") { Description = "Tokens per KV block (1 to 32)", DefaultValueFactory = _ => 16 };
    public Option<int> NumBlocks { get; } = new("--num-blocks") { Description = "KV blocks to allocate (overrides --kv-cache-space)" };
    public Option<double> KvCacheSpace { get; } = new("--kv-cache-space") { Description = $"GiB for the KV cache (default: {KvCacheSizing.DefaultShareOfMemory:P0} of available memory, capped at what max-num-seqs full-length sequences use)" };
    public Option<double> SwapSpace { get; } = new("--swap-space") { Description = "GiB of host memory for swapped-out blocks", DefaultValueFactory = _ => 1.0 };
    public Option<int> MaxNumSeqs { get; } = new("--max-num-seqs") { Description = "Most sequences in one step", DefaultValueFactory = _ => 256 };
    public Option<int> MaxNumBatchedTokens { get; } = new("--max-num-batched-tokens") { Description = "Token budget of one step (long prompts are split into chunks)", DefaultValueFactory = _ => 2048 };
    public Option<int> MaxModelLength { get; } = new("--max-model-len") { Description = "Longest prompt plus output (default: the model's context)" };
    public Option<PreemptionMode> Preemption { get; } = new("--preemption-mode") { Description = "recompute or swap", DefaultValueFactory = _ => PreemptionMode.Recompute };
    public Option<string?> AttentionBackend { get; } = new("--attention-backend") { Description = "native or torch (default: native where its library loads)" };
    public Option<bool> EnablePrefixCaching { get; } = new("--enable-prefix-caching") { Description = "Reuse KV blocks of identical prefixes (on by default)" };
    public Option<bool> NoEnablePrefixCaching { get; } = new("--no-enable-prefix-caching") { Description = "Turn prefix caching off" };
    public Option<KvLayout> KvLayout { get; } = new("--kv-layout") { Description = "paged, or reserved (each request's maximum length reserved up front: the paper's baseline)", DefaultValueFactory = _ => Actors.Engine.KvLayout.Paged };
    public Option<BatchingMode> Batching { get; } = new("--batching") { Description = "continuous (iteration-level) or static (request-level)", DefaultValueFactory = _ => BatchingMode.Continuous };
    public Option<long> Seed { get; } = new("--engine-seed") { Description = "Seed of dummy weights", DefaultValueFactory = _ => 0 };

    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { Model, ServedModelName, LoadFormat, DType, Device, BlockSize, NumBlocks, KvCacheSpace, SwapSpace, MaxNumSeqs,
                     MaxNumBatchedTokens, MaxModelLength, Preemption, AttentionBackend, EnablePrefixCaching, NoEnablePrefixCaching, KvLayout, Batching, Seed })
            command.Options.Add(option);
    }

    public EngineOptions Bind(ParseResult result) => new()
    {
        Model = result.GetValue(Model),
        ServedModelName = result.GetValue(ServedModelName),
        LoadFormat = result.GetValue(LoadFormat)!,
        DType = result.GetValue(DType)!,
        Device = result.GetValue(Device)!,
        BlockSize = result.GetValue(BlockSize),
        NumBlocks = result.GetValue(NumBlocks),
        KvCacheSpaceGiB = result.GetValue(KvCacheSpace),
        SwapSpaceGiB = result.GetValue(SwapSpace),
        MaxNumSeqs = result.GetValue(MaxNumSeqs),
        MaxNumBatchedTokens = result.GetValue(MaxNumBatchedTokens),
        MaxModelLength = result.GetValue(MaxModelLength),
        PreemptionMode = result.GetValue(Preemption),
        AttentionBackend = result.GetValue(AttentionBackend),
        EnablePrefixCaching = !result.GetValue(NoEnablePrefixCaching),
        KvLayout = result.GetValue(KvLayout),
        Batching = result.GetValue(Batching),
        Seed = result.GetValue(Seed),
    };
}
