using LlmEngine.Kernels.Attention;
using LlmEngine.Kernels.Cache;
using LlmEngine.Kernels.Workers;
using LlmEngine.Scheduling;
using static LlmEngine.Actors.Engine.SettingRules;

namespace LlmEngine.Actors.Engine;

/// <summary>
/// Engine settings: the defaults are the property initialisers, and <see cref="Settings"/> names
/// each one once, with its rule. The command-line flags, configuration binding (section "Engine",
/// by property name) and the benchmarks' JSON all derive from this record, and every door calls
/// <see cref="Validate"/> before an engine starts.
/// </summary>
public sealed record EngineOptions
{
    /// <summary>A Hugging Face directory, a directory with a llama2.c checkpoint, or a .bin path;
    /// null or empty for the embedded default model.</summary>
    public string? Model { get; set; }
    public string? ServedModelName { get; set; }
    /// <summary>"auto" (real weights) or "dummy" (seeded random weights from config.json alone).</summary>
    public string LoadFormat { get; set; } = "auto";
    public string DType { get; set; } = "float32";
    /// <summary>"q8_0", "q4_0", "q4_k", "q5_k" or "q6_k": linear layers' weights quantized to ggml blocks at load time; null: as loaded
    /// (a GGUF file's blocks on the quantized kernels); "none": computed in the dtype (a GGUF file's blocks decoded).</summary>
    public string? Quantization { get; set; }
    public string Device { get; set; } = "cpu";
    public int BlockSize { get; set; } = 16;
    /// <summary>Blocks of the KV cache; 0: derive from <see cref="KvCacheSpaceGiB"/>.</summary>
    public int NumBlocks { get; set; }
    /// <summary>GiB for the KV cache; 0: a quarter of the machine's available memory, capped so
    /// the cache holds no more than max-num-seqs full-length sequences.</summary>
    public double KvCacheSpaceGiB { get; set; }
    /// <summary>"auto" (the model's dtype; float16 with quantized weights), "float32", "bfloat16", "float16", "fp8" (= "fp8_e4m3") or "fp8_e5m2": see <see cref="KvCacheDTypes"/>.</summary>
    public string KvCacheDType { get; set; } = KvCacheDTypes.Auto;
    public double SwapSpaceGiB { get; set; } = 1;
    public int MaxNumSeqs { get; set; } = 256;
    public int MaxNumBatchedTokens { get; set; } = 2048;
    /// <summary>0: the model's maximum positions.</summary>
    public int MaxModelLength { get; set; }
    public PreemptionMode PreemptionMode { get; set; } = PreemptionMode.Recompute;
    /// <summary>"native" or "torch"; null picks native where its library loads.</summary>
    public string? AttentionBackend { get; set; }
    public bool EnablePrefixCaching { get; set; } = true;
    public KvLayout KvLayout { get; set; } = KvLayout.Paged;
    public BatchingMode Batching { get; set; } = BatchingMode.Continuous;
    public long Seed { get; set; }
    /// <summary>Tensor-parallel ranks (Megatron-LM shards), each a thread of this process with its share of the cores.</summary>
    public int TensorParallelSize { get; set; } = 1;
    /// <summary>Pipeline stages (contiguous layer ranges) the model is split into; each stage may itself be tensor-parallel.</summary>
    public int PipelineParallelSize { get; set; } = 1;
    /// <summary>With the cluster backend, each tensor-parallel rank on a node of its own (the head's rank 0 of stage 0, a
    /// worker node for every other), its all-reduces over TCP between the nodes; else a stage's ranks are threads of one process.</summary>
    public bool TensorParallelAcrossNodes { get; set; }
    /// <summary>"local": every stage in this process; "cluster": stages 1 to P-1 on worker nodes that join this head's Akka.Cluster.</summary>
    public string DistributedExecutorBackend { get; set; } = "local";
    /// <summary>The head's Akka.Cluster port (the worker nodes join it); 0: none. Also <c>serve</c>'s replica cluster port.</summary>
    public int ClusterPort { get; set; }
    /// <summary>The address worker nodes reach the head at.</summary>
    public string ClusterHost { get; set; } = "127.0.0.1";
    /// <summary>Seconds the head waits at start for worker nodes to load every stage.</summary>
    public double WorkerTimeoutSeconds { get; set; } = 120;
    /// <summary>Seconds a request waits for a pipeline stage without its worker node before it fails
    /// (HTTP 503 naming the stage), counted from its arrival or the loss, whichever came later; 0: refused at once.</summary>
    public double StageWaitSeconds { get; set; } = 30;
    /// <summary>Seconds the head waits for a worker node's answer to one step before it counts the node as lost.</summary>
    public double StageStepTimeoutSeconds { get; set; } = 300;
    /// <summary>Most requests that may wait for admission; one more is refused (HTTP 503 with
    /// Retry-After) instead of making every wait longer. 0: <c>serve</c> takes
    /// <see cref="DefaultWaitingPerSeat"/> x max-num-seqs, in-process callers no bound; -1: no bound.</summary>
    public int MaxWaitingRequests { get; set; }

    public const int DefaultWaitingPerSeat = 2;
    /// <summary>Seconds a graceful shutdown waits for in-flight requests before aborting them.</summary>
    public double ShutdownGraceSeconds { get; set; } = 10;

    /// <summary>Every setting, in the order <c>--help</c> lists them.</summary>
    public static IReadOnlyList<EngineSetting> Settings { get; } =
    [
        new EngineSetting<string?>("model", "Hugging Face model directory, directory with a llama2.c checkpoint, or .bin path (default: the embedded random model)",
            o => o.Model, (o, v) => o.Model = v),
        new EngineSetting<string?>("served-model-name", "Model name announced by the server", o => o.ServedModelName, (o, v) => o.ServedModelName = v),
        new EngineSetting<string>("load-format", "auto (real weights) or dummy (seeded random weights from config.json)",
            o => o.LoadFormat, (o, v) => o.LoadFormat = v, OneOf("auto", "dummy")),
        new EngineSetting<string>("dtype", "float32 or bfloat16", o => o.DType, (o, v) => o.DType = v, OneOf("float32", "fp32", "float", "bfloat16", "bf16")),
        new EngineSetting<string?>("quantization", "q8_0, q4_0, q4_k, q5_k or q6_k: quantize the linear layers' weights at load time (ggml blocks; activations quantized on the fly); none: compute in --dtype, decoding a GGUF file's blocks (default for GGUF: its blocks on the quantized kernels)",
            o => o.Quantization, (o, v) => o.Quantization = v, OneOf("q8_0", "q4_0", "q4_k", "q5_k", "q6_k", "none")),
        new EngineSetting<string>("device", "cpu or cuda:N", o => o.Device, (o, v) => o.Device = v),
        new EngineSetting<int>("block-size", "Tokens per KV block (1 to 32)", o => o.BlockSize, (o, v) => o.BlockSize = v, Between(1, 32)),
        new EngineSetting<int>("num-blocks", "KV blocks to allocate (overrides --kv-cache-space; 0: from --kv-cache-space)",
            o => o.NumBlocks, (o, v) => o.NumBlocks = v, AtLeast(0)),
        new EngineSetting<double>("kv-cache-space", $"GiB for the KV cache (0: {WorkerOptions.DefaultKvCacheShare:P0} of available memory, capped at what max-num-seqs full-length sequences use)",
            o => o.KvCacheSpaceGiB, (o, v) => o.KvCacheSpaceGiB = v, NotNegative),
        new EngineSetting<string>("kv-cache-dtype", "auto (the model's dtype; float16, llama.cpp's default, with quantized weights), float32, bfloat16, float16, fp8 (= fp8_e4m3) or fp8_e5m2 (16 bits: attention reads half as much per step, the cache holds twice the tokens; float16 keeps 3 more bits of each value, bfloat16 float32's range; fp8: a quarter of float32's bytes, 4 (e4m3, up to ±448) or 3 (e5m2) significant bits, scale 1.0, saturating)",
            o => o.KvCacheDType, (o, v) => o.KvCacheDType = v, OneOf(KvCacheDTypes.Names)),
        new EngineSetting<double>("swap-space", "GiB of host memory for swapped-out blocks", o => o.SwapSpaceGiB, (o, v) => o.SwapSpaceGiB = v, NotNegative),
        new EngineSetting<int>("max-num-seqs", "Most sequences in one step", o => o.MaxNumSeqs, (o, v) => o.MaxNumSeqs = v, AtLeast(1)),
        new EngineSetting<int>("max-num-batched-tokens", "Token budget of one step (long prompts are split into chunks)",
            o => o.MaxNumBatchedTokens, (o, v) => o.MaxNumBatchedTokens = v, AtLeast(1)),
        new EngineSetting<int>("max-model-len", "Longest prompt plus output (0: the model's context)", o => o.MaxModelLength, (o, v) => o.MaxModelLength = v, AtLeast(0)),
        new EngineSetting<PreemptionMode>("preemption-mode", "recompute or swap", o => o.PreemptionMode, (o, v) => o.PreemptionMode = v),
        new EngineSetting<string?>("attention-backend", "native or torch (default: native where its library loads)",
            o => o.AttentionBackend, (o, v) => o.AttentionBackend = v, OneOf(AttentionBackends.Native, AttentionBackends.Torch, AttentionBackends.Auto)),
        new EngineSetting<bool>("enable-prefix-caching", "Reuse KV blocks of identical prefixes (on by default; --no-enable-prefix-caching turns it off)",
            o => o.EnablePrefixCaching, (o, v) => o.EnablePrefixCaching = v),
        new EngineSetting<KvLayout>("kv-layout", "paged, or reserved (each request's maximum length reserved up front: the paper's baseline)",
            o => o.KvLayout, (o, v) => o.KvLayout = v),
        new EngineSetting<BatchingMode>("batching", "continuous (iteration-level) or static (request-level)", o => o.Batching, (o, v) => o.Batching = v),
        new EngineSetting<long>("engine-seed", "Seed of dummy weights", o => o.Seed, (o, v) => o.Seed = v),
        new EngineSetting<int>("tensor-parallel-size", "Ranks the model is split over (Megatron-LM: heads and MLP units), each a thread with its share of the cores; LLaMA, GPT-2 and OPT",
            o => o.TensorParallelSize, (o, v) => o.TensorParallelSize = v, Between(1, 64)),
        new EngineSetting<int>("pipeline-parallel-size", "Stages the model's layers are split into (the first also embeds, the last also computes the LM head and samples), run in order with the hidden states passed on; LLaMA, GPT-2 and OPT",
            o => o.PipelineParallelSize, (o, v) => o.PipelineParallelSize = v, Between(1, 64)),
        new EngineSetting<bool>("tensor-parallel-across-nodes", "With --distributed-executor-backend cluster: each tensor-parallel rank on a node of its own (the head holds rank 0 of stage 0, a worker node each other rank), the all-reduces over TCP between them: slow (2 network round trips per layer per step), for a model whose layers do not fit one machine; docs/distributed.md",
            o => o.TensorParallelAcrossNodes, (o, v) => o.TensorParallelAcrossNodes = v),
        new EngineSetting<string>("distributed-executor-backend", "local (every stage in this process) or cluster (stages after the first on worker nodes: llm-engine worker --join; docs/distributed.md)",
            o => o.DistributedExecutorBackend, (o, v) => o.DistributedExecutorBackend = v, OneOf("local", "cluster")),
        new EngineSetting<int>("cluster-port", "Akka.Cluster port: of the head that worker nodes join (--distributed-executor-backend cluster), or of serve's replica cluster (docs/cluster.md); 0: none",
            o => o.ClusterPort, (o, v) => o.ClusterPort = v, Between(0, 65535)),
        new EngineSetting<string>("cluster-host", "Address other nodes reach this one at", o => o.ClusterHost, (o, v) => o.ClusterHost = v),
        new EngineSetting<double>("worker-timeout", "Seconds the head waits for worker nodes to load every pipeline stage",
            o => o.WorkerTimeoutSeconds, (o, v) => o.WorkerTimeoutSeconds = v, NotNegative),
        new EngineSetting<double>("stage-wait-timeout", "Seconds a request waits for a pipeline stage without its worker node (it fails with 503 after; 0: refused at once)",
            o => o.StageWaitSeconds, (o, v) => o.StageWaitSeconds = v, NotNegative),
        new EngineSetting<double>("stage-step-timeout", "Seconds the head waits for a worker node to answer one step before it counts the node as lost",
            o => o.StageStepTimeoutSeconds, (o, v) => o.StageStepTimeoutSeconds = v, Positive),
        new EngineSetting<int>("max-waiting-requests", $"Most requests waiting for admission; more get 503 with Retry-After (0: {DefaultWaitingPerSeat} x max-num-seqs when serving, no bound in generate and bench; -1: no bound)",
            o => o.MaxWaitingRequests, (o, v) => o.MaxWaitingRequests = v, AtLeast(-1)),
        new EngineSetting<double>("shutdown-grace-seconds", "Seconds a shutdown waits for in-flight requests before aborting them",
            o => o.ShutdownGraceSeconds, (o, v) => o.ShutdownGraceSeconds = v, NotNegative),
    ];

    /// <summary>The settings the data plane (<see cref="Worker"/>) is built from.</summary>
    public WorkerOptions ForWorker() => new()
    {
        Model = Model, LoadFormat = LoadFormat, DType = DType, Quantization = Quantization, Device = Device, Seed = Seed,
        MaxModelLength = MaxModelLength, BlockSize = BlockSize, AttentionBackend = AttentionBackend,
        TensorParallelSize = TensorParallelSize, PipelineParallelSize = PipelineParallelSize, NumBlocks = NumBlocks,
        KvCacheSpaceGiB = KvCacheSpaceGiB, KvCacheDType = KvCacheDType, MaxNumSeqs = MaxNumSeqs, SwapSpaceGiB = SwapSpaceGiB, PreemptionMode = PreemptionMode,
    };

    /// <summary>These options, or an <see cref="EngineOptionsException"/> naming the first setting out of its range.</summary>
    public EngineOptions Validate()
    {
        foreach (var setting in Settings)
            if (setting.Problem(this) is { } problem) throw new EngineOptionsException(problem);
        if (TensorParallelAcrossNodes && (DistributedExecutorBackend != "cluster" || TensorParallelSize < 2))
            throw new EngineOptionsException("--tensor-parallel-across-nodes puts tensor-parallel ranks on worker nodes: give --distributed-executor-backend cluster and --tensor-parallel-size 2 or more");
        if (DistributedExecutorBackend == "cluster" && PipelineParallelSize < 2 && !TensorParallelAcrossNodes)
            throw new EngineOptionsException("--distributed-executor-backend cluster runs pipeline stages on worker nodes: give --pipeline-parallel-size 2 or more (or --tensor-parallel-across-nodes with --tensor-parallel-size 2 or more)");
        if (DistributedExecutorBackend == "cluster" && ClusterPort == 0)
            throw new EngineOptionsException("--distributed-executor-backend cluster needs --cluster-port: the port worker nodes join");
        return this;
    }
}
