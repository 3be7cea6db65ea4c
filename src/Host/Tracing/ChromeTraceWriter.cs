using System.Diagnostics;
using System.Text.Json;
using LlmEngine.Actors.Observing;

namespace LlmEngine.Host.Tracing;

/// <summary>
/// Writes the engine's events as Chrome trace-event JSON (what Perfetto and chrome://tracing
/// open), streaming, so a long trace costs disk, not memory.
/// <list type="bullet">
/// <item>Process "engine", track "step loop": one span per step (its batch composition in args)
/// containing schedule (proposal to allocation), forward, sample and complete (tokens appended,
/// stop checks, outputs sent); instants for preemptions, swaps, evictions and copy-on-write;
/// counters for the batch, the KV blocks and the queues.</item>
/// <item>Process "requests", one track per request: back-to-back spans queued, prefill (one per
/// chunk), decode, preempted, swapped, waiting (running but not scheduled), ending with a
/// "finished" instant; so a request's spans add up to its time in the engine.</item>
/// </list>
/// Timestamps are microseconds since <c>origin</c> (a <see cref="Stopwatch"/> timestamp).
/// </summary>
internal sealed class ChromeTraceWriter : IDisposable
{
    private const int EnginePid = 1, RequestsPid = 2, StepTid = 1;
    private readonly Utf8JsonWriter _json;
    private readonly long _origin;
    private readonly Dictionary<string, Track> _requests = new();
    private int _nextTid = 1;
    private long _last;

    private sealed class Track(int tid, string name, long start, int tokens)
    {
        public int Tid = tid;
        public string Name = name;
        public long Start = start;
        public int Tokens = tokens;
    }

    public ChromeTraceWriter(Stream output, long origin)
    {
        _json = new Utf8JsonWriter(output);
        _origin = origin;
        _json.WriteStartObject();
        _json.WriteString("displayTimeUnit", "ms");
        _json.WriteStartArray("traceEvents");
        Metadata("process_name", EnginePid, 0, "engine");
        Metadata("thread_name", EnginePid, StepTid, "step loop");
        Metadata("process_name", RequestsPid, 0, "requests");
    }

    public void Add(EngineEvent e)
    {
        _last = Math.Max(_last, e.Timestamp);
        switch (e)
        {
            case RequestArrived a:
                // Stamped when the engine accepted it, which may be before this trace began.
                Open(a.RequestId, "queued", Math.Max(a.Timestamp, _origin));
                break;
            case StepRecord step:
                Step(step);
                break;
            case RequestFinished f when _requests.Remove(f.RequestId, out var track):
                Close(track, f.Timestamp);
                Instant("finished", RequestsPid, track.Tid, f.Timestamp, "t", ("reason", f.Reason));
                break;
        }
        if (_json.BytesPending > 1 << 16) _json.Flush();
    }

    private void Step(StepRecord step)
    {
        long modelEnd = step.Allocated + Ticks(step.ComputeSeconds - step.SampleSeconds);
        Span("step", EnginePid, StepTid, step.Start, step.Timestamp, w =>
        {
            w.WriteNumber("step", step.Step);
            w.WriteNumber("requests", step.Batch.Count);
            w.WriteNumber("sequences", step.Batch.Sum(r => r.Sequences));
            w.WriteNumber("prefill_tokens", step.Batch.Sum(r => r.PrefillTokens));
            w.WriteNumber("decode_tokens", step.Batch.Sum(r => r.DecodeTokens));
        });
        Span("schedule", EnginePid, StepTid, step.Start, step.Allocated);
        Span("forward", EnginePid, StepTid, step.Allocated, modelEnd);
        Span("sample", EnginePid, StepTid, modelEnd, Math.Min(step.Executed, modelEnd + Ticks(step.SampleSeconds)));
        Span("complete", EnginePid, StepTid, step.Executed, step.Timestamp);
        foreach (var id in step.Preempted) Instant("preempt", EnginePid, StepTid, step.Start, "t", ("request", id));
        foreach (var id in step.SwappedOut) Instant("swap out", EnginePid, StepTid, step.Start, "t", ("request", id));
        foreach (var id in step.SwappedIn) Instant("swap in", EnginePid, StepTid, step.Start, "t", ("request", id));
        if (step.Evictions > 0) Instant("evict", EnginePid, StepTid, step.Start, "t", ("blocks", step.Evictions));
        if (step.CopiedBlocks > 0) Instant("copy-on-write", EnginePid, StepTid, step.Start, "t", ("blocks", step.CopiedBlocks));
        Counter("batch", step.Timestamp, ("sequences", step.Batch.Sum(r => r.Sequences)), ("tokens", step.Batch.Sum(r => r.PrefillTokens + r.DecodeTokens)));
        Counter("KV blocks", step.Timestamp, ("used", step.Usage.Total - step.Usage.Free), ("shared", step.Usage.SharedBlocks), ("swapped", step.Usage.UsedSwapBlocks), ("total", step.Usage.Total));
        Counter("queues", step.Timestamp, ("running", step.Running), ("waiting", step.Waiting), ("swapped", step.Swapped));

        foreach (var id in step.Preempted) Move(id, "preempted", step.Start);
        foreach (var id in step.SwappedOut) Move(id, "swapped", step.Start);
        var ran = new HashSet<string>();
        foreach (var r in step.Batch)
        {
            ran.Add(r.RequestId);
            if (r.PrefillTokens > 0) Move(r.RequestId, "prefill", step.Start, r.PrefillTokens, chunk: true);
            else Move(r.RequestId, "decode", step.Start, r.DecodeTokens);
        }
        foreach (var (id, track) in _requests)
            if (!ran.Contains(id) && track.Name is "prefill" or "decode") Move(id, "waiting", step.Start);
    }

    // Ends the request's current span at `time` and opens `name`, unless it is already in a
    // decode (or other non-chunk) span of that name, which simply goes on.
    private void Move(string requestId, string name, long time, int tokens = 0, bool chunk = false)
    {
        if (!_requests.TryGetValue(requestId, out var track))
        {
            Open(requestId, name, time, tokens);
            return;
        }
        if (track.Name == name && !chunk)
        {
            track.Tokens += tokens;
            return;
        }
        Close(track, time);
        (track.Name, track.Start, track.Tokens) = (name, time, tokens);
    }

    private void Open(string requestId, string name, long time, int tokens = 0)
    {
        var track = _requests[requestId] = new Track(_nextTid++, name, time, tokens);
        Metadata("thread_name", RequestsPid, track.Tid, requestId);
    }

    private void Close(Track track, long end) =>
        Span(track.Name, RequestsPid, track.Tid, track.Start, end, track.Tokens > 0 ? w => w.WriteNumber("tokens", track.Tokens) : null);

    private long Ticks(double seconds) => (long)(seconds * Stopwatch.Frequency);

    private double Micros(long timestamp) => Math.Round((timestamp - _origin) * 1e6 / Stopwatch.Frequency, 3);

    private void Span(string name, int pid, int tid, long start, long end, Action<Utf8JsonWriter>? args = null)
    {
        Begin(name, "X", pid, tid, start);
        _json.WriteNumber("dur", Math.Max(0, Micros(end) - Micros(start)));
        if (args is not null)
        {
            _json.WriteStartObject("args");
            args(_json);
            _json.WriteEndObject();
        }
        _json.WriteEndObject();
    }

    private void Instant(string name, int pid, int tid, long time, string scope, params (string Key, object Value)[] args)
    {
        Begin(name, "i", pid, tid, time);
        _json.WriteString("s", scope);
        _json.WriteStartObject("args");
        foreach (var (key, value) in args)
        {
            if (value is int n) _json.WriteNumber(key, n);
            else _json.WriteString(key, value.ToString());
        }
        _json.WriteEndObject();
        _json.WriteEndObject();
    }

    private void Counter(string name, long time, params (string Key, int Value)[] values)
    {
        Begin(name, "C", EnginePid, StepTid, time);
        _json.WriteStartObject("args");
        foreach (var (key, value) in values) _json.WriteNumber(key, value);
        _json.WriteEndObject();
        _json.WriteEndObject();
    }

    private void Metadata(string name, int pid, int tid, string value)
    {
        _json.WriteStartObject();
        _json.WriteString("name", name);
        _json.WriteString("ph", "M");
        _json.WriteNumber("pid", pid);
        _json.WriteNumber("tid", tid);
        _json.WriteStartObject("args");
        _json.WriteString("name", value);
        _json.WriteEndObject();
        _json.WriteEndObject();
    }

    private void Begin(string name, string phase, int pid, int tid, long time)
    {
        _json.WriteStartObject();
        _json.WriteString("name", name);
        _json.WriteString("ph", phase);
        _json.WriteNumber("ts", Micros(time));
        _json.WriteNumber("pid", pid);
        _json.WriteNumber("tid", tid);
    }

    /// <summary>Ends the spans of requests still in the engine at the last event seen and closes the JSON.</summary>
    public void Dispose()
    {
        foreach (var track in _requests.Values) Close(track, _last);
        _requests.Clear();
        _json.WriteEndArray();
        _json.WriteEndObject();
        _json.Flush();
        _json.Dispose();
    }
}
