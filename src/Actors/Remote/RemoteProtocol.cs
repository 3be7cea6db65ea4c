using LlmEngine.Kernels.Sampling;

namespace LlmEngine.Actors.Remote;

// The engine's wire contract for other actor systems (docs/akka.md). Every message is a record of
// primitives, strings and arrays, so Akka's default serializer (Newtonsoft JSON, which writes the
// type's assembly-qualified name) carries it unchanged; both sides reference this assembly.
//
//   caller                         EngineGatewayActor (/user/llm-engine)
//     | RemoteGenerate ------------->|  validates, tokenises a text prompt, queues the request
//     |<------------ ISourceRef<RemoteDelta>   (or RemoteGenerateRejected)
//     | materialises ref.Source ---->|  deltas stream with back-pressure; the last one of each
//     |<---- RemoteDelta ... --------|  completion carries its FinishReason, then the stream ends
//     | cancels the stream --------->|  aborts the request; its blocks are freed within one step

/// <summary>Marker of the messages an <see cref="EngineGatewayActor"/> accepts.</summary>
public interface IEngineGatewayMessage;

/// <summary>Submit one request. Give <paramref name="Prompt"/> (text, tokenised by the served
/// model's tokenizer with its special tokens) or <paramref name="PromptTokenIds"/>; when both are
/// given the ids are used. <paramref name="RequestId"/> is the caller's: it comes back on every
/// delta and need only be unique to the caller (the gateway keeps engine ids apart).</summary>
public sealed record RemoteGenerate(string RequestId, string? Prompt, int[]? PromptTokenIds, RemoteSampling Sampling) : IEngineGatewayMessage;

/// <summary>The sampling fields a remote request may set; defaults as in OpenAI's API
/// (temperature 0 is greedy). Validated by the engine, as over HTTP.</summary>
public sealed record RemoteSampling(
    int MaxTokens = 16,
    double Temperature = 1.0,
    double TopP = 1.0,
    int TopK = 0,
    double MinP = 0,
    long? Seed = null,
    int N = 1,
    int MinTokens = 0,
    bool IgnoreEos = false,
    string[]? Stop = null,
    int[]? StopTokenIds = null,
    double PresencePenalty = 0,
    double FrequencyPenalty = 0,
    double RepetitionPenalty = 1.0)
{
    public SamplingParameters ToParameters() => new()
    {
        MaxTokens = MaxTokens,
        Temperature = Temperature,
        TopP = TopP,
        TopK = TopK,
        MinP = MinP,
        Seed = Seed,
        N = N,
        MinTokens = MinTokens,
        IgnoreEos = IgnoreEos,
        Stop = Stop ?? [],
        StopTokenIds = StopTokenIds ?? [],
        PresencePenalty = PresencePenalty,
        FrequencyPenalty = FrequencyPenalty,
        RepetitionPenalty = RepetitionPenalty,
    };
}

/// <summary>What completion <paramref name="Index"/> of a request gained in one engine step: its
/// new token ids and their text. <paramref name="FinishReason"/> ("stop", "length" or "abort")
/// marks that completion's last delta; the stream completes after every completion's last.</summary>
public sealed record RemoteDelta(string RequestId, int Index, int[] TokenIds, string Text, string? FinishReason);

/// <summary>The reply instead of a stream when the request cannot run: <paramref name="Field"/>
/// names the request field at fault ("prompt", "max_tokens", "temperature", ...) and
/// <paramref name="Message"/> says why, as the HTTP API's 400 does; no field when the engine is
/// not admitting requests (shutting down).</summary>
public sealed record RemoteGenerateRejected(string RequestId, string? Field, string Message);
