using System.Diagnostics;
using System.Text;
using LlmEngine.Actors.Cluster;
using LlmEngine.Actors.Engine;
using LlmEngine.Kernels.Cache;
using LlmEngine.Kernels.Sampling;
using Prometheus;

namespace LlmEngine.Host.Metrics;

/// <summary>
/// vLLM's Prometheus metrics, in a registry of this server's own (so several servers in one
/// process, as in tests, do not share or clash). Gauges and the engine-wide counters are read
/// from <see cref="ILlmEngine.Statistics"/> at scrape time; the latency histograms and the
/// per-reason success counter are observed by the server as each request's outputs arrive.
/// </summary>
/// <remarks>prometheus-net refuses ':' in metric names (it reserves it for recording rules), while
/// vLLM's names are "vllm:...". The collectors are registered as "vllm_..." and the exposition
/// rewrites that prefix; see <see cref="Export"/>.</remarks>
internal sealed class ServerMetrics
{
    private const string Prefix = "vllm_";
    private static readonly string[] ModelLabel = ["model_name"];

    private static readonly double[] FirstTokenBuckets =
        [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0];
    private static readonly double[] InterTokenBuckets =
        [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0];
    private static readonly double[] RequestBuckets =
        [0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0];

    private readonly ILlmEngine _engine;
    private readonly string _model;
    private readonly Counter _success;

    public ServerMetrics(ILlmEngine engine, string modelName)
    {
        _engine = engine;
        _model = modelName;
        Registry = Prometheus.Metrics.NewCustomRegistry();
        var f = Prometheus.Metrics.WithCustomRegistry(Registry);

        var running = f.CreateGauge(Prefix + "num_requests_running", "Number of requests in model execution batches.", ModelLabel).WithLabels(modelName);
        var waiting = f.CreateGauge(Prefix + "num_requests_waiting", "Number of requests waiting to be processed.", ModelLabel).WithLabels(modelName);
        var swapped = f.CreateGauge(Prefix + "num_requests_swapped", "Number of requests swapped to CPU.", ModelLabel).WithLabels(modelName);
        var kvUsage = f.CreateGauge(Prefix + "kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", ModelLabel).WithLabels(modelName);
        var preemptions = f.CreateCounter(Prefix + "num_preemptions_total", "Cumulative number of preemptions from the engine.", ModelLabel).WithLabels(modelName);
        var promptTokens = f.CreateCounter(Prefix + "prompt_tokens_total", "Number of prefill tokens processed.", ModelLabel).WithLabels(modelName);
        var generationTokens = f.CreateCounter(Prefix + "generation_tokens_total", "Number of generation tokens processed.", ModelLabel).WithLabels(modelName);
        var prefixQueries = f.CreateCounter(Prefix + "prefix_cache_queries_total", "Prompt tokens looked up in the prefix cache.", ModelLabel).WithLabels(modelName);
        var prefixHits = f.CreateCounter(Prefix + "prefix_cache_hits_total", "Prompt tokens found in the prefix cache.", ModelLabel).WithLabels(modelName);
        var rejected = f.CreateCounter(Prefix + "request_rejected_total", "Requests refused because the waiting queue was full (HTTP 503).", ModelLabel).WithLabels(modelName);
        var aborts = f.CreateCounter(Prefix + "request_abort_total", "Requests ended before their finish, by reason (client, shutdown, error, engine_dead).", ["model_name", "reason"]);
        // Every known reason is exported from the start, so a rate over it is defined before the first abort.
        foreach (var reason in AbortReasons.All) aborts.WithLabels(modelName, reason);
        _success = f.CreateCounter(Prefix + "request_success_total", "Count of successfully processed requests.", ["model_name", "finished_reason"]);
        FirstToken = Histogram(f, "time_to_first_token_seconds", "Histogram of time to first token in seconds.", FirstTokenBuckets);
        InterToken = Histogram(f, "inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", InterTokenBuckets);
        EndToEnd = Histogram(f, "e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.", RequestBuckets);
        Queue = Histogram(f, "request_queue_time_seconds", "Histogram of time spent in WAITING phase for request.", RequestBuckets);
        Prefill = Histogram(f, "request_prefill_time_seconds", "Histogram of time spent in PREFILL phase for request.", RequestBuckets);
        Decode = Histogram(f, "request_decode_time_seconds", "Histogram of time spent in DECODE phase for request.", RequestBuckets);
        Inference = Histogram(f, "request_inference_time_seconds", "Histogram of time spent in RUNNING phase for request.", RequestBuckets);
        var lengths = OneTwoFive(engine.MaxModelLength);
        PromptLength = Histogram(f, "request_prompt_tokens", "Number of prefill tokens processed.", lengths);
        GenerationLength = Histogram(f, "request_generation_tokens", "Number of generation tokens processed.", lengths);
        MaxTokensParam = Histogram(f, "request_params_max_tokens", "Histogram of the max_tokens request parameter.", lengths);
        NParam = Histogram(f, "request_params_n", "Histogram of the n request parameter.", [1, 2, 5, 10, 20]);
        CacheConfig(f, engine);

        if (engine is ClusterEngine cluster) RouterMetrics(f, cluster.Directory);

        Registry.AddBeforeCollectCallback(() =>
        {
            var s = _engine.Statistics;
            running.Set(s.Running);
            waiting.Set(s.Waiting);
            swapped.Set(s.Swapped);
            kvUsage.Set(s.KvCacheUsage);
            // Counters only rise; IncTo ignores a smaller figure (an engine restarted under us).
            preemptions.IncTo(s.NumPreemptions);
            promptTokens.IncTo(s.PromptTokens);
            generationTokens.IncTo(s.GenerationTokens);
            prefixQueries.IncTo(s.PrefixCacheQueries);
            prefixHits.IncTo(s.PrefixCacheHits);
            rejected.IncTo(s.RequestsRejected);
            foreach (var (reason, count) in s.Aborts ?? new Dictionary<string, long>()) aborts.WithLabels(modelName, reason).IncTo(count);
        });
    }

    /// <summary>A cluster node's routing: requests per target replica, prompt blocks the chosen replica
    /// held, and the decisions' count and time (their ratio is the mean routing latency).</summary>
    private void RouterMetrics(IMetricFactory f, ReplicaDirectory directory)
    {
        var requests = f.CreateCounter("llm_router_requests_total", "Requests this node routed, by target replica.", ["target"]);
        var hits = f.CreateCounter("llm_router_prefix_hit_blocks_total", "Prompt blocks already cached on the replica each request was routed to.");
        var decisions = f.CreateCounter("llm_router_decisions_total", "Routing decisions made.");
        var seconds = f.CreateCounter("llm_router_decision_seconds_total", "Time spent deciding where requests go, in seconds.");
        Registry.AddBeforeCollectCallback(() =>
        {
            var s = directory.Statistics;
            foreach (var (target, n) in s.RequestsByTarget) requests.WithLabels(target).IncTo(n);
            hits.IncTo(s.PrefixHitBlocks);
            decisions.IncTo(s.Decisions);
            seconds.IncTo(s.DecisionSeconds);
        });
    }

    // vLLM's cache_config_info: the KV cache's settings as labels of a gauge that is always 1 (cache_dtype: the
    // element type the cache was allocated in, "auto" resolved).
    private void CacheConfig(IMetricFactory f, ILlmEngine engine)
    {
        var labels = new Dictionary<string, string> { ["num_gpu_blocks"] = engine.Statistics.BlocksTotal.ToString(System.Globalization.CultureInfo.InvariantCulture) };
        if (engine is InferenceEngine { Options: var o } e)
        {
            labels["block_size"] = o.BlockSize.ToString(System.Globalization.CultureInfo.InvariantCulture);
            labels["enable_prefix_caching"] = o.EnablePrefixCaching ? "True" : "False";
            labels["cache_dtype"] = KvCacheDTypes.NameOf(e.KvCacheDType);
            labels["swap_space"] = o.SwapSpaceGiB.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        f.CreateGauge(Prefix + "cache_config_info", "Information of the LLMEngine CacheConfig.", [.. labels.Keys]).WithLabels([.. labels.Values]).Set(1);
    }

    /// <summary>vLLM's build_1_2_5_buckets: 1, 2, 5, 10, 20, 50, ... up to <paramref name="max"/>.</summary>
    public static double[] OneTwoFive(int max)
    {
        var buckets = new List<double>();
        for (double scale = 1; ; scale *= 10)
            foreach (int m in (ReadOnlySpan<int>)[1, 2, 5])
            {
                if (m * scale > Math.Max(max, 1)) return [.. buckets];
                buckets.Add(m * scale);
            }
    }

    public CollectorRegistry Registry { get; }
    internal Histogram.Child FirstToken { get; }
    internal Histogram.Child InterToken { get; }
    internal Histogram.Child EndToEnd { get; }
    internal Histogram.Child Queue { get; }
    internal Histogram.Child Prefill { get; }
    internal Histogram.Child Decode { get; }
    internal Histogram.Child Inference { get; }
    internal Histogram.Child PromptLength { get; }
    internal Histogram.Child GenerationLength { get; }
    internal Histogram.Child MaxTokensParam { get; }
    internal Histogram.Child NParam { get; }

    /// <summary>Starts timing one engine request; feed it every output the request yields.</summary>
    public RequestMetrics Begin(SamplingParameters sampling)
    {
        MaxTokensParam.Observe(sampling.MaxTokens);
        NParam.Observe(sampling.N);
        return new(this);
    }

    internal void Succeeded(string finishReason) => _success.WithLabels(_model, finishReason).Inc();

    /// <summary>Writes the Prometheus text exposition, with vLLM's "vllm:" names.</summary>
    public async Task Export(Stream destination, CancellationToken ct)
    {
        using var buffer = new MemoryStream();
        await Registry.CollectAndExportAsTextAsync(buffer, ct);
        var text = Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
        var sb = new StringBuilder(text.Length);
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0) continue;
            sb.Append(Rename(line)).Append('\n');
        }
        if (_engine.Statistics.IterationTokens is { } iterations) IterationTokensHistogram(sb, iterations);
        await destination.WriteAsync(Encoding.UTF8.GetBytes(sb.ToString()), ct);
    }

    // The engine counts steps per bucket itself (a step is not seen here), so this histogram is
    // written as text rather than observed through prometheus-net.
    private void IterationTokensHistogram(StringBuilder sb, IterationTokens t)
    {
        const string Name = "vllm:iteration_tokens_total";
        var model = $"model_name=\"{_model.Replace("\\", "\\\\").Replace("\"", "\\\"")}\"";
        sb.Append($"# HELP {Name} Histogram of number of tokens per engine_step.\n# TYPE {Name} histogram\n");
        long cumulative = 0;
        for (int i = 0; i <= t.Bounds.Count; i++)
        {
            cumulative += t.Counts[i];
            var le = i < t.Bounds.Count ? t.Bounds[i].ToString(System.Globalization.CultureInfo.InvariantCulture) : "+Inf";
            sb.Append($"{Name}_bucket{{{model},le=\"{le}\"}} {cumulative}\n");
        }
        sb.Append($"{Name}_sum{{{model}}} {t.Sum}\n{Name}_count{{{model}}} {cumulative}\n");
    }

    private static string Rename(string line)
    {
        foreach (var head in (ReadOnlySpan<string>)["# HELP ", "# TYPE ", ""])
            if (line.StartsWith(head + Prefix, StringComparison.Ordinal))
                return string.Concat(head, "vllm:", line.AsSpan(head.Length + Prefix.Length));
        return line;
    }

    private Histogram.Child Histogram(IMetricFactory f, string name, string help, double[] buckets) =>
        f.CreateHistogram(Prefix + name, help, ModelLabel, new HistogramConfiguration { Buckets = buckets }).WithLabels(_model);
}

/// <summary>The timing of one engine request as its outputs arrive. The engine's own
/// <see cref="RequestTimings"/> are preferred where the final output carries them; the stream's
/// arrival times stand in otherwise.</summary>
internal sealed class RequestMetrics
{
    private readonly ServerMetrics _metrics;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private double? _firstToken;
    private double _lastToken;

    internal RequestMetrics(ServerMetrics metrics) => _metrics = metrics;

    public void Observe(RequestOutput output)
    {
        var now = _clock.Elapsed.TotalSeconds;
        if (output.Deltas.Any(d => d.TokenIds.Count > 0))
        {
            if (_firstToken is null) _firstToken = now;
            else _metrics.InterToken.Observe(now - _lastToken);
            _lastToken = now;
        }
        if (!output.Finished) return;
        _metrics.PromptLength.Observe(output.PromptTokenIds.Count);
        _metrics.GenerationLength.Observe(output.Outputs?.Sum(o => o.TokenIds.Count) ?? 0);
        if (output.Timings is { } t)
        {
            _metrics.FirstToken.Observe(t.FirstTokenSeconds);
            _metrics.EndToEnd.Observe(t.EndSeconds);
            _metrics.Queue.Observe(t.QueueSeconds);
            // As vLLM splits a request's time: scheduled to first token, first token to end, and both.
            _metrics.Prefill.Observe(Math.Max(0, t.FirstTokenSeconds - t.QueueSeconds));
            _metrics.Decode.Observe(Math.Max(0, t.EndSeconds - t.FirstTokenSeconds));
            _metrics.Inference.Observe(Math.Max(0, t.EndSeconds - t.QueueSeconds));
        }
        else
        {
            if (_firstToken is { } first) _metrics.FirstToken.Observe(first);
            _metrics.EndToEnd.Observe(now);
        }
        var reason = output.Outputs is { Count: > 0 } o ? o[0].FinishReason
            : output.Deltas.LastOrDefault(d => d.Finished)?.FinishReason ?? "stop";
        _metrics.Succeeded(reason);
    }
}
