using System.Diagnostics;
using LlmEngine.Actors.Observing;

namespace LlmEngine.Host.Dashboard;

/// <summary>
/// Each live request's story from the engine's events: when it arrived, was admitted (and its
/// prefix-cache hit), preempted, swapped out, resumed. A request leaves the
/// log when it finishes. Not thread-safe: the hub's loop owns it.
/// </summary>
internal sealed class RequestLog
{
    private const int MaxChanges = 32;
    private readonly Dictionary<string, Entry> _entries = new();

    public sealed class Entry(long arrived)
    {
        public long Arrived { get; } = arrived;
        public int CachedTokens { get; set; }
        public List<(long Time, string State)> Changes { get; } = [(arrived, "queued")];
    }

    public void Add(EngineEvent e)
    {
        switch (e)
        {
            case RequestArrived a:
                _entries[a.RequestId] = new Entry(a.Timestamp);
                break;
            case RequestFinished f:
                _entries.Remove(f.RequestId);
                break;
            case StepRecord step:
                foreach (var id in step.Preempted) Change(id, step.Start, "preempted");
                foreach (var id in step.SwappedOut) Change(id, step.Start, "swapped");
                foreach (var id in step.SwappedIn) Change(id, step.Start, "resumed");
                foreach (var r in step.Batch)
                {
                    if (!_entries.TryGetValue(r.RequestId, out var entry)) continue;
                    if (r.Admitted)
                    {
                        entry.CachedTokens = Math.Max(entry.CachedTokens, r.CachedTokens);
                        Change(r.RequestId, step.Start, entry.Changes.Count == 1 ? "running" : "resumed");
                    }
                }
                break;
        }
    }

    public Entry? Find(string requestId) => _entries.GetValueOrDefault(requestId);

    /// <summary>Milliseconds from <paramref name="since"/> to <paramref name="time"/>.</summary>
    public static double Milliseconds(long since, long time) => (time - since) * 1000.0 / Stopwatch.Frequency;

    private void Change(string requestId, long time, string state)
    {
        if (!_entries.TryGetValue(requestId, out var entry)) return;
        entry.Changes.Add((time, state));
        if (entry.Changes.Count > MaxChanges) entry.Changes.RemoveAt(1);
    }
}
