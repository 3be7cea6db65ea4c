using MessagePack;

namespace LlmEngine.Contracts;

// The engine's wire contract for other actor systems (docs/akka.md). Callers reference only this
// assembly (Akka and Akka.Streams, no TorchSharp). Every message is a MessagePack record with
// numbered keys, carried by ContractsSerializer (RemoteContracts.Config binds it): compact, and
// free of CLR type names, so either side may change its own code without breaking the other.
// New fields get new keys at the end; keys are never reused.
//
//   caller                         EngineGatewayActor (/user/llm-engine)
//     | RemoteGenerate ------------->|  validates, tokenises a text prompt, queues the request
//     |<------------ ISourceRef<RemoteDelta>   (or RemoteGenerateRejected)
//     | materialises ref.Source ---->|  deltas stream with back-pressure; the last one of each
//     |<---- RemoteDelta ... --------|  completion carries its FinishReason, then the stream ends
//     | cancels the stream --------->|  aborts the request; its blocks are freed within one step

/// <summary>Marker of the messages that travel with <see cref="ContractsSerializer"/>.</summary>
public interface IRemoteContract;

/// <summary>Submit one request. Give <paramref name="Prompt"/> (text, tokenised by the served
/// model's tokenizer with its special tokens) or <paramref name="PromptTokenIds"/>; when both are
/// given the ids are used. <paramref name="RequestId"/> is the caller's: it comes back on every
/// delta and need only be unique to the caller (the gateway keeps engine ids apart).</summary>
[MessagePackObject]
public sealed record RemoteGenerate(
    [property: Key(0)] string RequestId,
    [property: Key(1)] string? Prompt,
    [property: Key(2)] int[]? PromptTokenIds,
    [property: Key(3)] RemoteSampling Sampling) : IRemoteContract;

/// <summary>The sampling fields a remote request may set; defaults as in OpenAI's API
/// (temperature 0 is greedy). Validated by the engine, as over HTTP.</summary>
[MessagePackObject]
public sealed record RemoteSampling(
    [property: Key(0)] int MaxTokens = 16,
    [property: Key(1)] double Temperature = 1.0,
    [property: Key(2)] double TopP = 1.0,
    [property: Key(3)] int TopK = 0,
    [property: Key(4)] double MinP = 0,
    [property: Key(5)] long? Seed = null,
    [property: Key(6)] int N = 1,
    [property: Key(7)] int MinTokens = 0,
    [property: Key(8)] bool IgnoreEos = false,
    [property: Key(9)] string[]? Stop = null,
    [property: Key(10)] int[]? StopTokenIds = null,
    [property: Key(11)] double PresencePenalty = 0,
    [property: Key(12)] double FrequencyPenalty = 0,
    [property: Key(13)] double RepetitionPenalty = 1.0,
    [property: Key(14)] int? Logprobs = null);

/// <summary>What completion <paramref name="Index"/> of a request gained in one engine step: its
/// new token ids and their text. <paramref name="FinishReason"/> ("stop", "length" or "abort")
/// marks that completion's last delta; the stream completes after every completion's last.
/// <paramref name="Logprobs"/>, one per new token, when the request asked for them.</summary>
[MessagePackObject]
public sealed record RemoteDelta(
    [property: Key(0)] string RequestId,
    [property: Key(1)] int Index,
    [property: Key(2)] int[] TokenIds,
    [property: Key(3)] string Text,
    [property: Key(4)] string? FinishReason,
    [property: Key(5)] RemoteLogprob[]? Logprobs = null) : IRemoteContract;

/// <summary>A sampled token's log-probability and the most likely alternatives (ids and
/// log-probabilities, best first), as many as the request's logprobs asked.</summary>
[MessagePackObject]
public sealed record RemoteLogprob(
    [property: Key(0)] float Logprob,
    [property: Key(1)] int[] TopIds,
    [property: Key(2)] float[] TopLogprobs);

/// <summary>The reply instead of a stream when the request cannot run: <paramref name="Field"/>
/// names the request field at fault ("prompt", "max_tokens", "temperature", ...) and
/// <paramref name="Message"/> says why, as the HTTP API's 400 does; no field when the engine is
/// not admitting requests (shutting down).</summary>
[MessagePackObject]
public sealed record RemoteGenerateRejected(
    [property: Key(0)] string RequestId,
    [property: Key(1)] string? Field,
    [property: Key(2)] string Message) : IRemoteContract;
