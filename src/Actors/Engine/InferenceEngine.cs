using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Akka.Actor;
using Akka.Streams.Dsl;
using Akka;
using LlmEngine.Actors.Distributed;
using LlmEngine.Actors.Observing;
using LlmEngine.Kernels.Attention;
using LlmEngine.Kernels.Cache;
using LlmEngine.Kernels.Models;
using LlmEngine.Kernels.Sharding;
using LlmEngine.Kernels.Tokenizers;
using LlmEngine.Kernels.Workers;
using LlmEngine.Scheduling.Blocks;
using LlmEngine.Scheduling;
using TorchSharp;

namespace LlmEngine.Actors.Engine;

/// <summary>
/// The engine facade: builds the data plane once (a <see cref="Worker"/>: the model and its paged KV
/// cache), starts the Scheduler actor (which owns the scheduler, with its KV cache manager, and the
/// Worker actor that runs the data plane's steps) and turns each request into a stream of outputs. Shutdown stops admitting, lets in-flight requests finish within a grace period,
/// then aborts the rest.
/// </summary>
public sealed class InferenceEngine : ILlmEngine, IObservedEngine, IAsyncDisposable
{
    private readonly LoadedModel _model;
    private readonly Worker _worker;
    private readonly ClusterStages? _stages;
    private readonly ActorSystem _system;
    private readonly bool _ownsSystem;
    private readonly IActorRef _scheduler;
    private readonly EngineMeter _meter = new();
    private readonly EngineHealth _health = new();
    private readonly KvCacheManager _blocks;
    private int _inFlight;
    private volatile bool _serving = true;

    /// <param name="system">the ActorSystem to run on (null: the engine starts its own; with the cluster backend,
    /// one on --cluster-port that the worker nodes join)</param>
    public static InferenceEngine Start(EngineOptions options, ActorSystem? system = null, Action<string>? log = null)
    {
        options.Validate();
        log ??= _ => { };
        bool owned = system is null;
        if (options.DistributedExecutorBackend == "cluster")
            system ??= ActorSystem.Create(StageHocon.SystemName, StageHocon.Head(options.ClusterHost, options.ClusterPort));
        try
        {
            var (worker, stages) = options.DistributedExecutorBackend == "cluster"
                ? ClusteredWorker.Start(options, system!, log)
                : (Worker.Create(options.ForWorker()), (ClusterStages?)null);
            return new InferenceEngine(worker, stages, options, system, owned, log);
        }
        catch
        {
            if (owned) system?.Terminate().Wait();
            throw;
        }
    }

    /// <summary>An engine over the loaded model as <paramref name="wrap"/> returns it: the fault-injection tests' seam.</summary>
    internal static InferenceEngine Start(EngineOptions options, Func<ICausalLanguageModel, ICausalLanguageModel> wrap) =>
        new(Worker.Create(options.ForWorker(), wrap), null, options, null, true, _ => { });

    /// <param name="stages">the worker nodes' pipeline stages (--distributed-executor-backend cluster), or null when every stage is here</param>
    private InferenceEngine(Worker worker, ClusterStages? stages, EngineOptions options, ActorSystem? system, bool ownsSystem, Action<string> log)
    {
        (_worker, _stages) = (worker, stages);
        var model = _model = worker.Model;
        Options = options;
        var config = model.Config;
        MaxModelLength = options.ForWorker().MaxModelLengthOf(config);
        var dtype = KvCacheDType = KvCacheDTypes.Of(options.KvCacheDType, model.Model.DType, model.QuantizedWeights);
        var (deviceBlocks, swapBlocks) = (worker.DeviceBlocks, worker.SwapBlocks);
        NumBlocks = deviceBlocks;
        AttentionBackendName = worker.AttentionBackendName;
        var runner = worker.Runner;
        // A longrope model's cached block does not say which factors rotated it: no prefix caching.
        _blocks = new KvCacheManager(deviceBlocks, options.BlockSize,
            options.EnablePrefixCaching && options.KvLayout == KvLayout.Paged && config.RecomputeAfter == 0, swapBlocks,
            config.WindowOfEveryLayer);
        EosTokenIds = config.EosTokenIds.Count > 0 ? config.EosTokenIds : model.Tokenizer?.EosTokenId is { } eos ? [eos] : [];
        var scheduler = new Scheduler(new SchedulerOptions(options.MaxNumSeqs, options.MaxNumBatchedTokens, MaxModelLength,
            options.PreemptionMode, options.Batching, options.KvLayout, EosTokenIds,
            options.MaxWaitingRequests > 0 ? options.MaxWaitingRequests : int.MaxValue, config.RecomputeAfter), _blocks);

        Observer = new EngineObserver(() => _scheduler.Tell(new SchedulerActor.TakeSnapshot()));
        _ownsSystem = ownsSystem;
        _system = system ?? ActorSystem.Create("llm-engine", EngineHocon.Config);
        var (schedulerThread, workerThread) = StepThread.Dispatchers(_system);
        _scheduler = _system.ActorOf(
            SchedulerActor.Props(scheduler, WorkerActor.Props(runner, new InputBatch(options.BlockSize, EosTokenIds), workerThread), model.Tokenizer, _meter, Observer, _health,
                stages is { } gate ? new StepHold(gate, TimeSpan.FromSeconds(options.StageWaitSeconds)) : null)
                .WithDispatcher(schedulerThread),
            "scheduler-" + Guid.NewGuid().ToString("N")[..8]);
        log($"model: {model.Description}");
        log($"KV cache: {deviceBlocks} blocks of {options.BlockSize} tokens ({deviceBlocks * (long)options.BlockSize} tokens, {KvCacheDTypes.NameOf(dtype)}), " +
            $"swap {swapBlocks} blocks{(_blocks.SlidingWindowSize > 0 ? $", blocks behind the {_blocks.SlidingWindowSize}-token window freed" : "")}; attention backend: {AttentionBackendName}; prefix caching: {(_blocks.PrefixCaching ? "on" : config.RecomputeAfter > 0 && options.EnablePrefixCaching ? "off (longrope)" : "off")}" +
            (options.TensorParallelSize > 1 ? $"; tensor parallel: {options.TensorParallelSize} ranks{(options.TensorParallelAcrossNodes ? " on as many nodes" : "")}" : "") +
            (options.PipelineParallelSize > 1 ? $"; pipeline parallel: {options.PipelineParallelSize} stages" : ""));
        // Steps held for a missing stage resume as soon as it is back.
        if (stages is { } remote) remote.Readied += () => _scheduler.Tell(new SchedulerActor.Recheck());
    }

    public EngineOptions Options { get; }
    public string ModelName => Options.ServedModelName ?? _model.Name;
    public ModelConfig ModelConfig => _model.Config;
    public ITokenizer? Tokenizer => _model.Tokenizer;
    public int MaxModelLength { get; }
    public bool IsServing => _serving && _health.DeadReason is null && UnavailableReason is null;
    /// <summary>Why the engine cannot serve for now (a pipeline stage without its worker node), or null.</summary>
    public string? UnavailableReason => _stages?.MissingReason;
    /// <summary>Why the engine died (its worker broke), or null while it is healthy.</summary>
    public string? DeadReason => _health.DeadReason;
    /// <summary>Cancelled when the engine dies: a host stops then, with a non-zero exit code.</summary>
    public CancellationToken Died => _health.Died;
    public bool IsDefaultModel => _model.IsDefault;
    public string ModelDescription => _model.Description;
    public string AttentionBackendName { get; }
    public IReadOnlyList<int> EosTokenIds { get; }
    public int NumBlocks { get; }
    /// <summary>The KV cache's element type (<c>--kv-cache-dtype</c>, "auto" resolved).</summary>
    public torch.ScalarType KvCacheDType { get; }

    /// <summary>Each tensor-parallel rank's seconds of compute and of all-reduce so far (empty when the model is whole);
    /// with pipeline stages, the ranks of every stage in stage order.</summary>
    public IReadOnlyList<RankTimes> TensorParallelRanks => _worker.Runner switch
    {
        TensorParallelRunner ranks => ranks.Ranks,
        PipelineRunner pipeline => [.. pipeline.Stages.OfType<TensorParallelRunner>().SelectMany(stage => stage.Ranks),
            .. pipeline.Stages.OfType<RankGroupRunner>().SelectMany(stage => stage.Ranks)],
        _ => [],
    };

    /// <summary>Hidden states handed between pipeline stages so far (zeros without stages).</summary>
    public PipelineBoundaryTimes PipelineBoundaries => _worker.Runner is PipelineRunner pipeline
        ? new(pipeline.BoundaryBytes, pipeline.Boundaries,
            pipeline.Stages.OfType<RemoteStageRunner>().Sum(r => r.RoundTripSeconds - r.WorkerSeconds))
        : new(0, 0, 0);

    /// <summary>The KV cache's block events, for a cluster's routers (recording once started).</summary>
    public KvEventLog KvEvents => _blocks.KvEvents;
    public EngineStatistics Statistics => _meter.Latest;
    public ActorSystem System => _system;
    /// <summary>Steps, arrivals, ends and block-map snapshots as they happen (dashboard, trace).</summary>
    public EngineObserver Observer { get; }
    public IActorRef Scheduler => _scheduler;

    /// <summary>Throws <see cref="ArgumentException"/> (ParamName = the API field) for a request that cannot run.</summary>
    public void Validate(GenerationRequest request)
    {
        request.Sampling.Validate();
        RequestValidation.Prompt(request.PromptTokenIds, request.Sampling.MaxTokens, ModelConfig.VocabSize, MaxModelLength);
        RequestLimits.Check(request, ModelConfig.VocabSize, NumBlocks, Options, _blocks.SlidingWindowSize);
    }

    public async IAsyncEnumerable<RequestOutput> GenerateAsync(GenerationRequest request, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        if (_health.DeadReason is { } dead) throw new EngineDeadException(dead);
        if (!_serving) throw new EngineStoppingException();
        // A missing stage holds requests (up to --stage-wait-timeout) unless they are not to wait at all.
        if (UnavailableReason is { } missing && Options.StageWaitSeconds == 0) throw new EngineUnavailableException(missing);
        Validate(request);
        var channel = Channel.CreateUnbounded<RequestOutput>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        Interlocked.Increment(ref _inFlight);
        bool finished = false;
        ICancelable? deadline = null;
        try
        {
            _scheduler.Tell(new SchedulerActor.AddRequest(request, channel.Writer));
            if (request.Timeout is { } timeout)
                deadline = _system.Scheduler.ScheduleTellOnceCancelable(timeout, _scheduler,
                    new SchedulerActor.AbortRequest(request.RequestId, AbortReasons.Deadline), ActorRefs.NoSender);
            await foreach (var output in channel.Reader.ReadAllAsync(cancellationToken))
            {
                finished = output.Finished;
                yield return output;
                if (finished) yield break;
            }
        }
        finally
        {
            deadline?.Cancel();
            // A stream the engine ended (a failure, a refusal such as a duplicate id) has nothing to
            // abort; aborting by id then could end another request of the same id.
            if (!finished && !channel.Reader.Completion.IsCompleted) _scheduler.Tell(new SchedulerActor.AbortRequest(request.RequestId, _serving ? AbortReasons.Client : AbortReasons.Shutdown));
            Interlocked.Decrement(ref _inFlight);
        }
    }

    public Source<RequestOutput, NotUsed> Generate(GenerationRequest request) => Source.From(() => GenerateAsync(request));

    /// <summary>Verifies the block pool's invariants (for tests); null when they hold.</summary>
    public async Task<string?> CheckBlockInvariantsAsync()
    {
        var result = await _scheduler.Ask<SchedulerActor.InvariantsChecked>(new SchedulerActor.CheckInvariants(), TimeSpan.FromSeconds(10));
        return result.Violation;
    }

    /// <summary>Free blocks as the block manager sees them now (asks it, so it is exact).</summary>
    public async Task<EngineStatistics> RefreshStatisticsAsync() =>
        await _scheduler.Ask<EngineStatistics>(new SchedulerActor.GetStatistics(), TimeSpan.FromSeconds(10));

    /// <summary>Requests whose streams have not ended yet.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>The one shutdown of every door: stops admitting (new requests throw
    /// <see cref="InvalidOperationException"/>; the HTTP server answers 503), waits up to
    /// <paramref name="grace"/> for in-flight requests, aborts those left (each stream ends with a
    /// final output whose unfinished completions say "abort", and frees its blocks), then stops the
    /// engine's actors.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        _serving = false;
        if (!await DrainedWithin(grace))
        {
            _scheduler.Tell(new SchedulerActor.AbortAll());
            // Aborted streams end at their consumers' pace; a consumer that has stopped reading
            // must not hold the shutdown, so this wait is short.
            await DrainedWithin(TimeSpan.FromSeconds(2));
        }
        await _scheduler.GracefulStop(TimeSpan.FromSeconds(5));
        if (_ownsSystem) await _system.Terminate();
    }

    private async Task<bool> DrainedWithin(TimeSpan time)
    {
        var deadline = DateTime.UtcNow + time;
        while (InFlight > 0 && DateTime.UtcNow < deadline) await Task.Delay(20);
        return InFlight == 0;
    }

    public async ValueTask DisposeAsync()
    {
        if (_serving || !_system.WhenTerminated.IsCompleted) await StopAsync(TimeSpan.FromSeconds(Options.ShutdownGraceSeconds));
        _worker.Dispose();
    }
}
