using System.Threading.Channels;
using Akka.Actor;
using LlmEngine.Actors.Engine;
using LlmEngine.Actors.Sequences;
using LlmEngine.Kernels.Tokenizers;
using LlmEngine.Scheduling;

namespace LlmEngine.Actors;

/// <summary>
/// One per request: turns the tokens the scheduler sends into text (detokenisation, stop
/// strings) and into the request's output stream. A stop string ends its completion here and is
/// reported to the scheduler, which frees that sequence's blocks at the next step.
/// </summary>
internal sealed class SequenceActor : ReceiveActor
{
    /// <summary>Prompt tokens scored in one step, by position in the prompt (prompt logprobs).</summary>
    public sealed record PromptScored(IReadOnlyList<(int Position, PromptLogprob Logprob)> Tokens);
    /// <summary>Tokens appended to this request's completions in one step.</summary>
    public sealed record TokensAppended(IReadOnlyList<(int Index, SampledToken Token, string? FinishReason)> Tokens, DateTime? FirstScheduled, DateTime? FirstToken);
    /// <summary>A beam search ended: its best beams, best first.</summary>
    public sealed record BeamsFinished(IReadOnlyList<BeamHypothesis> Beams, DateTime? FirstScheduled, DateTime? FirstToken);
    /// <summary>The request failed; its stream ends with <see cref="Error"/> (whose message names no internals).</summary>
    public sealed record Failed(Exception Error);
    /// <summary>Ended by the engine (shutdown after the grace period): the stream still ends with a
    /// final output, whose unfinished completions say "abort" and hold what they had generated.</summary>
    public sealed record Aborted;

    private readonly GenerationRequest _request;
    private readonly ChannelWriter<RequestOutput> _output;
    private readonly IActorRef _scheduler;
    private readonly ITokenizer? _tokenizer;
    private readonly DateTime _arrival;
    private readonly Dictionary<int, Completion> _completions = new();
    private readonly PromptLogprob?[]? _promptLogprobs;
    private bool _promptLogprobsSent;

    private sealed class Completion(CompletionText text)
    {
        public CompletionText Text { get; } = text;
        public List<int> Tokens { get; } = new();
        public List<SampledToken> Samples { get; } = new();
        public double CumulativeLogprob { get; set; }
        public string? FinishReason { get; set; }
    }

    /// <param name="arrival">when the engine accepted the request, the start of its timings</param>
    public static Props Props(GenerationRequest request, ChannelWriter<RequestOutput> output, IActorRef scheduler, ITokenizer? tokenizer,
        DateTime arrival) =>
        Akka.Actor.Props.Create(() => new SequenceActor(request, output, scheduler, tokenizer, arrival));

    public SequenceActor(GenerationRequest request, ChannelWriter<RequestOutput> output, IActorRef scheduler, ITokenizer? tokenizer,
        DateTime arrival)
    {
        _request = request;
        _arrival = arrival;
        _output = output;
        _scheduler = scheduler;
        _tokenizer = tokenizer;
        if (request.Sampling.PromptLogprobs is not null) _promptLogprobs = new PromptLogprob?[request.PromptTokenIds.Count];
        Receive<PromptScored>(OnPromptScored);
        Receive<TokensAppended>(OnTokens);
        Receive<BeamsFinished>(OnBeams);
        Receive<Aborted>(_ => OnAborted());
        Receive<Failed>(message =>
        {
            _output.TryComplete(message.Error);
            Context.Stop(Self);
        });
    }

    // A prompt recomputed after preemption is scored again: the first score stands.
    private void OnPromptScored(PromptScored message)
    {
        if (_promptLogprobs is null) return;
        foreach (var (position, logprob) in message.Tokens) _promptLogprobs[position] ??= logprob;
    }

    // The scored prompt goes with the request's first output and with its last.
    private RequestOutput WithPrompt(RequestOutput output)
    {
        if (_promptLogprobs is null || (_promptLogprobsSent && !output.Finished)) return output;
        _promptLogprobsSent = true;
        return output with { PromptLogprobs = [.. _promptLogprobs] };
    }

    private void OnTokens(TokensAppended message)
    {
        var deltas = new List<CompletionDelta>();
        foreach (var (index, token, finishReason) in message.Tokens)
        {
            var completion = CompletionAt(index);
            if (completion.FinishReason is not null) continue;
            completion.Tokens.Add(token.TokenId);
            completion.Samples.Add(token);
            completion.CumulativeLogprob += token.Logprob;
            // The scheduler's "stop" means a stop token ended it (stop strings are found here).
            bool stopToken = finishReason == "stop" && !_request.Sampling.IncludeStopStringInOutput;
            var text = completion.Text.Append(token.TokenId, finishReason is not null, shown: !stopToken);
            var reason = completion.Text.StoppedByString ? "stop" : finishReason;
            if (completion.Text.StoppedByString && finishReason is null)
                _scheduler.Tell(new SchedulerActor.StopCompletion(_request.RequestId, index));
            completion.FinishReason = reason;
            deltas.Add(new CompletionDelta(index, [token.TokenId], text, [token], reason));
        }
        bool finished = _completions.Count == _request.Sampling.N && _completions.Values.All(c => c.FinishReason is not null);
        if (!finished)
        {
            _output.TryWrite(WithPrompt(new RequestOutput(_request.RequestId, _request.PromptTokenIds, deltas, false)));
            return;
        }
        Complete(deltas, Outputs(), message.FirstScheduled, message.FirstToken);
    }

    private void OnAborted()
    {
        var deltas = new List<CompletionDelta>();
        for (int index = 0; index < _request.Sampling.N; index++)
        {
            var completion = CompletionAt(index);
            if (completion.FinishReason is not null) continue;
            completion.FinishReason = "abort";
            deltas.Add(new CompletionDelta(index, [], "", [], "abort"));
        }
        Complete(deltas, Outputs(), null, null);
    }

    private List<CompletionOutput> Outputs() => _completions.OrderBy(c => c.Key)
        .Select(c => new CompletionOutput(c.Key, c.Value.Tokens, c.Value.Text.Text, c.Value.CumulativeLogprob, c.Value.Samples, c.Value.FinishReason!))
        .ToList();

    // Beam search is not streamed: the beams arrive once, as the final output.
    private void OnBeams(BeamsFinished message)
    {
        var outputs = message.Beams.Select((beam, i) =>
        {
            var text = new CompletionText(_tokenizer, _request.PromptTokenIds, _request.Sampling with { Stop = [] });
            bool stopToken = beam.FinishReason == "stop" && !_request.Sampling.IncludeStopStringInOutput;
            for (int t = 0; t < beam.Tokens.Count; t++)
            {
                bool last = t == beam.Tokens.Count - 1;
                text.Append(beam.Tokens[t], last, shown: !(last && stopToken));
            }
            return new CompletionOutput(i, beam.Tokens, text.Text, beam.CumulativeLogprob, beam.Samples, beam.FinishReason);
        }).ToList();
        var deltas = outputs.Select(o => new CompletionDelta(o.Index, o.TokenIds, o.Text, o.Logprobs, o.FinishReason)).ToList();
        Complete(deltas, outputs, message.FirstScheduled, message.FirstToken);
    }

    private void Complete(IReadOnlyList<CompletionDelta> deltas, IReadOnlyList<CompletionOutput> outputs, DateTime? firstScheduled, DateTime? firstToken)
    {
        var now = DateTime.UtcNow;
        var timings = new RequestTimings(_arrival,
            ((firstScheduled ?? now) - _arrival).TotalSeconds,
            ((firstToken ?? now) - _arrival).TotalSeconds,
            (now - _arrival).TotalSeconds);
        _output.TryWrite(WithPrompt(new RequestOutput(_request.RequestId, _request.PromptTokenIds, deltas, true, outputs, timings)));
        _output.TryComplete();
        Context.Stop(Self);
    }

    // Stopped before its request finished (engine shut down, request aborted): end the stream
    // so that no reader waits forever. A no-op when the output is already complete.
    protected override void PostStop() =>
        _output.TryComplete(new OperationCanceledException($"request {_request.RequestId} was aborted"));

    private Completion CompletionAt(int index)
    {
        if (!_completions.TryGetValue(index, out var completion))
            _completions[index] = completion = new Completion(new CompletionText(_tokenizer, _request.PromptTokenIds, _request.Sampling));
        return completion;
    }
}
