using System.CommandLine;
using System.Text.Json;
using LlmEngine.Actors.Engine;
using LlmEngine.Host.Bench;
using LlmEngine.Host.Tracing;
using LlmEngine.Kernels.Sampling;
using LlmEngine.Scheduling;
using LlmEngine.Tests.Engine;
using Xunit.Abstractions;

namespace LlmEngine.Tests.Tracing;

/// <summary>A step trace of a short run with preemption is Chrome trace-event JSON whose
/// per-request spans account for each request's whole latency.</summary>
[Collection(TimingCollection.Name)]
public sealed class StepTraceTests(ITestOutputHelper output)
{
    private static readonly string[] Phases = ["X", "i", "C", "M"];
    // The in-engine delivery hop (the scheduler's step end to the request's actor) runs on the shared
    // thread pool: 108 ms once at load 9 on 2 cores (CI on 65bb37a), as the caller's hops reached 190 ms.
    private const double HopAllowanceMicros = 250_000;

    [Theory]
    [InlineData(PreemptionMode.Recompute)]
    [InlineData(PreemptionMode.Swap)]
    public async Task EachRequestsSpansAddUpToItsLatencyWithinAStep(PreemptionMode mode)
    {
        var path = Path.Combine(Path.GetTempPath(), $"trace-{Guid.NewGuid():N}.json");
        var latencies = new Dictionary<string, double>();
        try
        {
            await using (var engine = EngineRuns.Stories(numBlocks: 32, blockSize: 4, mode: mode))
            {
                await using (TraceRecording.Start(engine.Observer, File.Create(path)))
                {
                    var runs = Enumerable.Range(0, 6).Select(async i =>
                    {
                        var request = new GenerationRequest($"req-{i}", Enumerable.Range(1 + i, 12 + 3 * i).ToArray(),
                            new SamplingParameters { Temperature = 0, MaxTokens = 40, IgnoreEos = true, N = i == 5 ? 2 : 1 });
                        // The request's time in the engine by its own timings: from the moment the engine
                        // accepted it to the moment it ended it. The hops on either side (this call reaching
                        // the engine, the last output reaching this await) are the caller's, and a loaded
                        // machine can hold either back for a few time slices (190 ms once at load 26).
                        var final = await EngineRuns.Final(engine, request);
                        lock (latencies) latencies[request.RequestId] = final.Timings!.EndSeconds * 1e6;
                    }).ToList();
                    await Task.WhenAll(runs);
                }
                Assert.True(engine.Statistics.NumPreemptions > 0, "the run should preempt");
            }

            using var trace = JsonDocument.Parse(File.ReadAllText(path));
            var events = trace.RootElement.GetProperty("traceEvents").EnumerateArray().ToList();
            foreach (var e in events)
            {
                Assert.Contains(e.GetProperty("ph").GetString(), Phases);
                Assert.Equal(JsonValueKind.Number, e.GetProperty("pid").ValueKind);
                Assert.Equal(JsonValueKind.Number, e.GetProperty("tid").ValueKind);
                if (e.GetProperty("ph").GetString() != "M") Assert.True(e.GetProperty("ts").GetDouble() >= 0);
                if (e.GetProperty("ph").GetString() == "X") Assert.True(e.GetProperty("dur").GetDouble() >= 0);
            }
            var steps = events.Where(e => Is(e, "X", "step")).ToList();
            double longestStep = steps.Max(e => e.GetProperty("dur").GetDouble());
            // The longest pause between two steps while requests were in flight: how long this machine
            // left the engine's threads waiting during the run (microseconds when quiet).
            var ordered = steps.OrderBy(e => e.GetProperty("ts").GetDouble()).ToList();
            double longestPause = ordered.Skip(1).Select((e, i) => e.GetProperty("ts").GetDouble() - End(ordered[i])).DefaultIfEmpty(0).Max();
            Assert.Contains(events, e => Is(e, "i", mode == PreemptionMode.Swap ? "swap out" : "preempt"));

            var tracks = events.Where(e => Is(e, "M", "thread_name") && e.GetProperty("pid").GetInt32() == 2)
                .ToDictionary(e => e.GetProperty("args").GetProperty("name").GetString()!, e => e.GetProperty("tid").GetInt32());
            Assert.Equal(latencies.Keys.Order(), tracks.Keys.Order());
            foreach (var (id, latency) in latencies)
            {
                var spans = events.Where(e => e.GetProperty("ph").GetString() == "X" && e.GetProperty("pid").GetInt32() == 2
                    && e.GetProperty("tid").GetInt32() == tracks[id]).OrderBy(e => e.GetProperty("ts").GetDouble()).ToList();
                Assert.Equal("queued", spans[0].GetProperty("name").GetString());
                Assert.Contains(spans, s => s.GetProperty("name").GetString() == "prefill");
                Assert.Contains(spans, s => s.GetProperty("name").GetString() == "decode");
                for (int i = 1; i < spans.Count; i++)
                    Assert.Equal(End(spans[i - 1]), spans[i].GetProperty("ts").GetDouble(), 0.01);
                var finished = Assert.Single(events, e => Is(e, "i", "finished") && e.GetProperty("tid").GetInt32() == tracks[id]);
                Assert.Equal(End(spans[^1]), finished.GetProperty("ts").GetDouble(), 0.01);
                double sum = spans.Sum(s => s.GetProperty("dur").GetDouble());
                output.WriteLine($"{id}: latency {latency / 1000:F2} ms, spans {sum / 1000:F2} ms, longest step {longestStep / 1000:F2} ms, longest pause {longestPause / 1000:F2} ms");
                // The spans and the latency both start when the engine accepted the request (the hop to
                // the scheduler counts as queueing); the spans end at the trace's "finished" instant and the
                // latency with the engine's timings, so what may lie between is a delivery hop inside the
                // engine: far less than a step on a quiet machine, but a loaded one may hold a thread for
                // a few time slices, as it held the scheduler between steps.
                Assert.InRange(latency - sum, 0, longestStep + Math.Max(HopAllowanceMicros, longestPause));
            }
            var series = TraceSeries.Read(path);
            Assert.Equal(steps.Count, series.Batch.Length);
            Assert.True(series.KvUsedPercent.Max() > 50);

            var png = Path.ChangeExtension(path, ".png");
            var root = new RootCommand();
            root.Subcommands.Add(BenchCommand.Create());
            Assert.Equal(0, await root.Parse(["bench", "plot-trace", path, "--output", png]).InvokeAsync());
            Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], File.ReadAllBytes(png)[..4]);
            File.Delete(png);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static bool Is(JsonElement e, string phase, string name) =>
        e.GetProperty("ph").GetString() == phase && e.GetProperty("name").GetString() == name;

    private static double End(JsonElement span) => span.GetProperty("ts").GetDouble() + span.GetProperty("dur").GetDouble();

    [Fact]
    public void PlotTraceRefusesAFileThatIsNoTrace()
    {
        var path = Path.Combine(Path.GetTempPath(), $"not-a-trace-{Guid.NewGuid():N}.json");
        try
        {
            File.WriteAllText(path, "{\"steps\": []}");
            Assert.Contains("no traceEvents array", Assert.Throws<ArgumentException>(() => TraceSeries.Read(path)).Message);
            File.WriteAllText(path, "[1, 2");
            Assert.Contains("is not a JSON trace", Assert.Throws<ArgumentException>(() => TraceSeries.Read(path)).Message);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
