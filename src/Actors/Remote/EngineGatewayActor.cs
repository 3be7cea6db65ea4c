using Akka;
using Akka.Actor;
using Akka.Streams;
using Akka.Streams.Dsl;
using LlmEngine.Actors.Engine;
using LlmEngine.Contracts;
using LlmEngine.Kernels.Sampling;

namespace LlmEngine.Actors.Remote;

/// <summary>
/// The engine's door for other actor systems: turns a <see cref="RemoteGenerate"/> into an engine
/// request and answers with an <see cref="ISourceRef{T}"/> of its <see cref="RemoteDelta"/>s, which
/// the caller materialises on its side (Akka.Streams stream refs: back-pressured, ordered, and
/// failing if either side goes away). A request the engine refuses is answered with
/// <see cref="RemoteGenerateRejected"/> instead. Cancelling the stream, or the stream failing,
/// aborts the request. Conventionally started as <c>/user/llm-engine</c> (<see cref="Name"/>).
/// </summary>
public sealed class EngineGatewayActor : ReceiveActor
{
    /// <summary>The gateway's conventional actor name.</summary>
    public const string Name = "llm-engine";

    /// <summary>Deltas buffered ahead of a slow caller before the engine's output waits in its own channel.</summary>
    private const int Buffer = 32;

    private readonly ILlmEngine _engine;
    private readonly IMaterializer _materializer;
    private long _requests;

    public static Props Props(ILlmEngine engine) => Akka.Actor.Props.Create(() => new EngineGatewayActor(engine));

    public EngineGatewayActor(ILlmEngine engine)
    {
        _engine = engine;
        _materializer = Context.Materializer();
        Receive<RemoteGenerate>(Generate);
    }

    // The only children are the streams' stage actors: a failed stream fails its own request only.
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(_ => Directive.Stop);

    private void Generate(RemoteGenerate message)
    {
        var replyTo = Sender;
        GenerationRequest request;
        try
        {
            request = new GenerationRequest($"{Self.Path.Name}-{++_requests}", PromptOf(message), ParametersOf(message.Sampling), message.Prompt);
        }
        catch (ArgumentException e)
        {
            replyTo.Tell(Rejected(message, e));
            return;
        }

        // The engine checks a request and queues it before its first output is awaited, so a
        // refusal shows here as an already-failed first step; anything later fails the stream.
        var cancel = new CancellationTokenSource();
        var outputs = _engine.GenerateAsync(request, cancel.Token).GetAsyncEnumerator(cancel.Token);
        var first = outputs.MoveNextAsync().AsTask();
        if (first is { IsFaulted: true, Exception.InnerException: ArgumentException or InvalidOperationException })
        {
            replyTo.Tell(Rejected(message, first.Exception.InnerException));
            _ = outputs.DisposeAsync().AsTask();
            return;
        }

        var (queue, stream) = Source.Queue<RemoteDelta>(Buffer, OverflowStrategy.Backpressure)
            .ToMaterialized(StreamRefs.SourceRef<RemoteDelta>(), Keep.Both)
            .Run(_materializer);
        // However the stream ends (caller cancelled, caller gone, never subscribed), stop the request.
        queue.WatchCompletionAsync().ContinueWith(_ => cancel.Cancel(), TaskScheduler.Default);
        stream.PipeTo(replyTo);
        _ = Pump(message.RequestId, outputs, first, queue);
    }

    /// <summary>Moves the engine's outputs into the stream, one delta per completion and step,
    /// waiting while the caller is behind; disposing the engine's enumerator aborts the request
    /// if it has not finished.</summary>
    private static async Task Pump(string requestId, IAsyncEnumerator<RequestOutput> outputs, Task<bool> first, ISourceQueueWithComplete<RemoteDelta> queue)
    {
        try
        {
            for (var more = await first; more; more = await outputs.MoveNextAsync())
                foreach (var delta in outputs.Current.Deltas)
                    if (await queue.OfferAsync(new RemoteDelta(requestId, delta.Index, [.. delta.TokenIds], delta.Text, delta.FinishReason, LogprobsOf(delta))) is not QueueOfferResult.Enqueued)
                        return;
            queue.Complete();
        }
        catch (StreamDetachedException)
        {
            // The stream stopped while an offer was pending.
        }
        catch (OperationCanceledException)
        {
            // The stream ended first; nothing is listening.
        }
        catch (Exception e)
        {
            queue.Fail(e);
        }
        finally
        {
            await outputs.DisposeAsync();
        }
    }

    private int[] PromptOf(RemoteGenerate message)
    {
        if (message.PromptTokenIds is { Length: > 0 } ids) return ids;
        if (message.Prompt is null) throw new ArgumentException("give Prompt or PromptTokenIds", "prompt");
        var tokenizer = _engine.Tokenizer ?? throw new ArgumentException("this model has no tokenizer: give PromptTokenIds", "prompt");
        return tokenizer.Encode(message.Prompt);
    }

    private static SamplingParameters ParametersOf(RemoteSampling s) => new()
    {
        MaxTokens = s.MaxTokens,
        Temperature = s.Temperature,
        TopP = s.TopP,
        TopK = s.TopK,
        MinP = s.MinP,
        Seed = s.Seed,
        N = s.N,
        MinTokens = s.MinTokens,
        IgnoreEos = s.IgnoreEos,
        Stop = s.Stop ?? [],
        StopTokenIds = s.StopTokenIds ?? [],
        PresencePenalty = s.PresencePenalty,
        FrequencyPenalty = s.FrequencyPenalty,
        RepetitionPenalty = s.RepetitionPenalty,
        Logprobs = s.Logprobs,
    };

    private static RemoteLogprob[]? LogprobsOf(CompletionDelta delta) =>
        delta.Logprobs.Count == 0 ? null
            : [.. delta.Logprobs.Select(t => new RemoteLogprob(t.Logprob, [.. t.Top.Select(a => a.TokenId)], [.. t.Top.Select(a => a.Logprob)]))];

    private static RemoteGenerateRejected Rejected(RemoteGenerate message, Exception e) =>
        new(message.RequestId, (e as ArgumentException)?.ParamName, e is ArgumentException { ParamName: { } p } ? e.Message.Replace($" (Parameter '{p}')", "") : e.Message);
}
