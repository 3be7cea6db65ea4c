using LlmEngine.Scheduling.Sequences;

namespace LlmEngine.Actors.Engine;

/// <summary>
/// The scheduler's hold while its <see cref="IStepGate"/> is closed (a pipeline stage without its
/// worker node): no step runs, and each request waits at most <see cref="Wait"/> counted from its
/// arrival or from the closing, whichever came later, before it fails with
/// <see cref="EngineUnavailableException"/> (HTTP 503 naming the missing stage). Steps already in
/// flight when the stage goes fail as they did (their requests with them).
/// <code>
///   gate open ──stage lost──> closed: queues held, nothing scheduled ──stage back──> open
///                                 │ each held request: wait = now - max(arrival, closed since)
///                                 └ wait >= Wait: the request fails (503)
/// </code>
/// </summary>
internal sealed class StepHold(IStepGate gate, TimeSpan wait)
{
    private DateTime? _closedSince;
    private long _reloadsSeen;

    public TimeSpan Wait => wait;

    /// <summary>How soon to look again while held (a returning stage also says so at once): a quarter
    /// of <see cref="Wait"/>, between 50 ms and 1 s.</summary>
    public TimeSpan Recheck => TimeSpan.FromTicks(Math.Clamp(wait.Ticks / 4, TimeSpan.FromMilliseconds(50).Ticks, TimeSpan.FromSeconds(1).Ticks));

    /// <summary>Why steps are held now, or null when they may run; then <paramref name="reloaded"/>
    /// says whether a part of the model came back with an empty KV cache since the last look.</summary>
    public string? Check(DateTime now, out bool reloaded)
    {
        reloaded = false;
        if (gate.Closed is { } reason)
        {
            _closedSince ??= now;
            return reason;
        }
        _closedSince = null;
        long reloads = gate.Reloads;
        reloaded = reloads != _reloadsSeen;
        _reloadsSeen = reloads;
        return null;
    }

    /// <summary>The held requests whose wait is over (only while held).</summary>
    public IEnumerable<string> Expired(IEnumerable<SequenceGroup> groups, DateTime now) =>
        _closedSince is not { } since ? [] : groups.Where(g => (g.Arrival > since ? g.Arrival : since) + wait <= now).Select(g => g.RequestId);
}
