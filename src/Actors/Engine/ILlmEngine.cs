using Akka;
using Akka.Streams.Dsl;
using LlmEngine.Kernels.Models;
using LlmEngine.Kernels.Tokenizers;

namespace LlmEngine.Actors.Engine;

/// <summary>
/// The engine's in-process door. A request's outputs arrive as an Akka.Streams source or an
/// async enumerable; cancelling the token (or cancelling the stream) aborts the request and
/// frees its blocks within one step. Errors a caller can fix (prompt too long, bad sampling
/// values) throw <see cref="ArgumentException"/> before anything is queued.
/// </summary>
public interface ILlmEngine
{
    /// <summary>The served model's name (its path's last part, or "default" for the embedded one).</summary>
    string ModelName { get; }
    ModelConfig ModelConfig { get; }
    /// <summary>Null for models that come without a tokenizer: callers pass token ids.</summary>
    ITokenizer? Tokenizer { get; }
    /// <summary>Longest prompt plus output a request may have.</summary>
    int MaxModelLength { get; }
    bool IsServing { get; }
    /// <summary>Why the engine died (its worker broke; it serves no more), or null while healthy.</summary>
    string? DeadReason => null;
    /// <summary>Why the engine cannot serve for now but may again (a pipeline stage without its worker node), or null.</summary>
    string? UnavailableReason => null;

    IAsyncEnumerable<RequestOutput> GenerateAsync(GenerationRequest request, CancellationToken cancellationToken = default);
    Source<RequestOutput, NotUsed> Generate(GenerationRequest request);

    /// <summary>Point-in-time figures for /metrics and --stats.</summary>
    EngineStatistics Statistics { get; }
}
