using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using Akka;
using Akka.Streams.Dsl;
using LlmEngine.Actors.Engine;
using LlmEngine.Kernels.Models;
using LlmEngine.Kernels.Tokenizers;

namespace LlmEngine.Tests.Server;

/// <summary>An <see cref="ILlmEngine"/> over <see cref="FakeModel"/>: one output per step with a
/// delta for each running choice, the last one finished with outputs and timings. It records the
/// requests it saw and whether a request was cancelled.</summary>
public sealed class FakeEngine : ILlmEngine
{
    private long _promptTokens, _generationTokens, _succeeded;
    private int _running;

    public string ModelName { get; init; } = "fake-model";
    public ModelConfig ModelConfig { get; } = new()
    {
        Architecture = ModelArchitecture.Llama, VocabSize = 259, HiddenSize = 8, NumLayers = 1, NumHeads = 1,
        IntermediateSize = 16, MaxPositions = 128, BosTokenId = FakeTokenizer.Bos, EosTokenIds = [FakeTokenizer.Eos],
    };
    public ITokenizer? Tokenizer { get; init; } = new FakeTokenizer();
    public int MaxModelLength { get; init; } = 128;
    public bool IsServing { get; set; } = true;
    public string? DeadReason { get; set; }

    /// <summary>Pause between steps (to let a test act mid-stream).</summary>
    public TimeSpan StepDelay { get; set; }
    /// <summary>When set, GenerateAsync throws it before the first output, or at step <see cref="FailAtStep"/>.</summary>
    public Exception? FailWith { get; set; }
    public int? FailAtStep { get; set; }
    /// <summary>As beam search does: deltas carry tokens but no text and no finish reason; the
    /// text and reasons are settled only in the final output's Outputs.</summary>
    public bool SettleAtEnd { get; set; }
    public int Waiting { get; set; }
    public int Swapped { get; set; }
    public long Rejected { get; set; }
    public Dictionary<string, long> Aborts { get; } = new();
    public double KvCacheUsage { get; set; }
    public long Preemptions { get; set; }
    public IterationTokens? IterationTokens { get; set; }

    public ConcurrentQueue<GenerationRequest> Requests { get; } = new();
    public TaskCompletionSource<string> Cancelled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    public GenerationRequest LastRequest => Requests.Last();

    public EngineStatistics Statistics => new(
        Running: _running, Waiting: Waiting, Swapped: Swapped, KvCacheUsage: KvCacheUsage, NumSteps: 0, NumPreemptions: Preemptions,
        NumSwappedOut: 0, PromptTokens: Interlocked.Read(ref _promptTokens), GenerationTokens: Interlocked.Read(ref _generationTokens),
        RequestsSucceeded: Interlocked.Read(ref _succeeded), PeakRunning: 0, PeakBlocksUsed: 0, BlocksTotal: 0, BlocksFree: 0,
        KvWasteFraction: 0, EngineOverheadFraction: 0, PrefixCacheQueries: 0, PrefixCacheHits: 0,
        PeakBlocksSavedBySharing: 0, MeanBlocksSavedBySharing: 0, RequestsRejected: Rejected, Aborts: new Dictionary<string, long>(Aborts), IterationTokens: IterationTokens);

    public Source<RequestOutput, NotUsed> Generate(GenerationRequest request) => Source.From(() => GenerateAsync(request));

    public async IAsyncEnumerable<RequestOutput> GenerateAsync(GenerationRequest request, [EnumeratorCancellation] CancellationToken ct = default)
    {
        request.Sampling.Validate();
        if (request.PromptTokenIds.Count + request.Sampling.MaxTokens > MaxModelLength)
            throw new ArgumentException("prompt too long", "max_tokens");
        Requests.Enqueue(request);
        if (FailWith is { } failure && FailAtStep is null) throw failure;
        var arrival = DateTime.UtcNow;
        var clock = Stopwatch.StartNew();
        var choices = Enumerable.Range(0, request.Sampling.N).Select(j => FakeModel.Complete(request.PromptTokenIds, j, request.Sampling)).ToArray();
        var steps = choices.Max(c => c.TokenIds.Count);
        var promptScores = FakeModel.ScorePrompt(request.PromptTokenIds, request.Sampling);
        double firstToken = 0;
        Interlocked.Add(ref _promptTokens, request.PromptTokenIds.Count);
        Interlocked.Increment(ref _running);
        try
        {
            for (var k = 0; k < steps; k++)
            {
                try
                {
                    if (StepDelay > TimeSpan.Zero) await Task.Delay(StepDelay, ct);
                    else await Task.Yield();
                    ct.ThrowIfCancellationRequested();
                }
                catch (OperationCanceledException)
                {
                    Cancelled.TrySetResult(request.RequestId);
                    throw;
                }
                if (k == FailAtStep && FailWith is { } midway) throw midway;
                if (k == 0) firstToken = clock.Elapsed.TotalSeconds;
                var deltas = choices.Select((c, j) => (c, j)).Where(x => k < x.c.TokenIds.Count).Select(x => new CompletionDelta(
                    x.j, [x.c.TokenIds[k]], SettleAtEnd ? "" : x.c.Pieces[k], x.c.Logprobs.Count > 0 ? [x.c.Logprobs[k]] : [],
                    k == x.c.TokenIds.Count - 1 && !SettleAtEnd ? x.c.FinishReason : null)).ToList();
                Interlocked.Add(ref _generationTokens, deltas.Count);
                var last = k == steps - 1;
                if (!last)
                {
                    yield return new RequestOutput(request.RequestId, request.PromptTokenIds, deltas, false) { PromptLogprobs = k == 0 ? promptScores : null };
                    continue;
                }
                Interlocked.Increment(ref _succeeded);
                var outputs = choices.Select((c, j) => new CompletionOutput(j, c.TokenIds, c.Text, c.Logprobs.Sum(l => l.Logprob), c.Logprobs, c.FinishReason)).ToList();
                var timings = new RequestTimings(arrival, 0.001, firstToken, clock.Elapsed.TotalSeconds);
                yield return new RequestOutput(request.RequestId, request.PromptTokenIds, deltas, true, outputs, timings) { PromptLogprobs = promptScores };
            }
        }
        finally
        {
            Interlocked.Decrement(ref _running);
        }
    }
}
