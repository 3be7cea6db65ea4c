using Akka;
using Akka.Streams.Dsl;
using LlmEngine.Actors.Engine;

namespace LlmEngine.Actors.Remote;

/// <summary>
/// The engine as Akka.Streams flows, for in-process pipelines:
/// <code>
///   Source.From(requests).Via(EngineStreams.Complete(engine, parallelism: 8)).RunForeach(Print, materializer);
/// </code>
/// Up to <c>parallelism</c> requests are in the engine at once (they are batched together); more
/// wait upstream, so back-pressure reaches the request source. A request the engine refuses
/// (<see cref="ArgumentException"/>) fails the flow; cancelling the flow aborts the requests in it.
/// </summary>
public static class EngineStreams
{
    /// <summary>Every output of every request as it arrives, requests interleaved (tell them
    /// apart by <see cref="RequestOutput.RequestId"/>); Akka.NET calls this flatMapMerge MergeMany.</summary>
    public static Flow<GenerationRequest, RequestOutput, NotUsed> Generate(ILlmEngine engine, int parallelism) =>
        Flow.Create<GenerationRequest>().MergeMany(parallelism, engine.Generate);

    /// <summary>The final output of each request (<see cref="RequestOutput.Outputs"/> set), in
    /// the order the requests came in.</summary>
    public static Flow<GenerationRequest, RequestOutput, NotUsed> Complete(ILlmEngine engine, int parallelism) =>
        Flow.Create<GenerationRequest>().SelectAsync(parallelism, request => Last(engine, request));

    private static async Task<RequestOutput> Last(ILlmEngine engine, GenerationRequest request)
    {
        RequestOutput? last = null;
        await foreach (var output in engine.GenerateAsync(request)) last = output;
        return last ?? throw new InvalidOperationException($"{request.RequestId} ended without output");
    }
}
