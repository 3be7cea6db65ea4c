using System.Runtime.CompilerServices;
using Akka;
using Akka.Streams.Dsl;
using LlmEngine.Actors.Engine;
using LlmEngine.Actors.Observing;
using LlmEngine.Kernels.Models;
using LlmEngine.Kernels.Tokenizers;

namespace LlmEngine.Host.Hosting;

/// <summary>
/// The <see cref="InferenceEngine"/> as a host serves it (what <see cref="ILlmEngine"/> resolves to
/// after <c>AddLlmEngine</c>): the same engine, plus a shutdown that never leaves a caller waiting.
/// <see cref="ShutdownAsync"/> stops admitting, lets in-flight requests run for the grace period,
/// then cancels the rest; a cancelled stream still ends with a final output whose unfinished
/// completions have finish reason "abort". Then it stops the engine.
/// </summary>
public sealed class HostedEngine(InferenceEngine engine) : ILlmEngine, IObservedEngine
{
    private readonly CancellationTokenSource _shutdown = new();
    private volatile bool _admitting = true;
    private int _inFlight;

    /// <summary>The engine itself: statistics, block invariants, its scheduler actor.</summary>
    public InferenceEngine Engine => engine;
    public string ModelName => engine.ModelName;
    public ModelConfig ModelConfig => engine.ModelConfig;
    public ITokenizer? Tokenizer => engine.Tokenizer;
    public int MaxModelLength => engine.MaxModelLength;
    public bool IsServing => _admitting && engine.IsServing;
    public EngineStatistics Statistics => engine.Statistics;
    public EngineObserver Observer => engine.Observer;
    /// <summary>Requests whose streams have not ended yet.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    public async IAsyncEnumerable<RequestOutput> GenerateAsync(GenerationRequest request, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        if (!_admitting) throw new InvalidOperationException("the engine is shutting down");
        Interlocked.Increment(ref _inFlight);
        try
        {
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _shutdown.Token);
            var seen = new AbortedOutput(request);
            await using var outputs = engine.GenerateAsync(request, linked.Token).GetAsyncEnumerator(linked.Token);
            while (true)
            {
                try
                {
                    if (!await outputs.MoveNextAsync()) yield break;
                }
                catch (OperationCanceledException) when (_shutdown.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
                {
                    break;
                }
                seen.Observe(outputs.Current);
                yield return outputs.Current;
            }
            yield return seen.Final();
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    public Source<RequestOutput, NotUsed> Generate(GenerationRequest request) => Source.From(() => GenerateAsync(request));

    /// <summary>Stops admitting (new requests throw <see cref="InvalidOperationException"/>; the HTTP
    /// server answers 503), waits up to <paramref name="grace"/> for in-flight requests, cancels
    /// those left (each stream ends with an "abort" output and frees its blocks), then stops the
    /// engine's actors.</summary>
    public async Task ShutdownAsync(TimeSpan grace)
    {
        _admitting = false;
        var deadline = DateTime.UtcNow + grace;
        while (InFlight > 0 && DateTime.UtcNow < deadline) await Task.Delay(20);
        if (InFlight > 0)
        {
            await _shutdown.CancelAsync();
            // Cancelled streams unwind at their consumers' pace; a consumer that has stopped
            // reading must not hold the host, so this wait is short.
            var unwound = DateTime.UtcNow + TimeSpan.FromSeconds(2);
            while (InFlight > 0 && DateTime.UtcNow < unwound) await Task.Delay(20);
        }
        var left = deadline - DateTime.UtcNow;
        await engine.StopAsync(left > TimeSpan.Zero ? left : TimeSpan.Zero);
    }
}
